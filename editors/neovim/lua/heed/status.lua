-- Tracks the server's `heed/status` notifications (loading / ready / fallback / error).
local M = { last = nil }

local levels = { error = vim.log.levels.ERROR, fallback = vim.log.levels.WARN }

function M.handler(_, params, ctx)
  local previous = M.last and M.last.state
  M.last = params
  vim.g.heed_status = params.state
  local level = levels[params.state]
  -- Tell the user once per change about trouble; loading/ready stay quiet.
  if level and previous ~= params.state then
    vim.schedule(function()
      vim.notify(('heed: %s (%s) %s'):format(params.state, params.model or '?', params.message or ''), level)
    end)
  end
  pcall(vim.cmd, 'doautocmd <nomodeline> User HeedStatus')
end

-- For a statusline: `%{v:lua.require'heed.status'.text()}`.
function M.text()
  if not M.last then
    return ''
  end
  return 'heed: ' .. M.last.state
end

return M
