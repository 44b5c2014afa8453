-- Ghost text for Neovim without vim.lsp.inline_completion (0.7-0.11): ask the server for
-- `textDocument/inlineCompletion` on a pause in insert mode and draw the answer with extmarks.
local M = {}

local api = vim.api
local ns = api.nvim_create_namespace('heed_ghost')
local state = {} -- bufnr -> { client, timer, request_id, item }
local TRIGGER_AUTOMATIC = 2

vim.cmd('highlight default link HeedGhostText Comment')

local function request(client, method, params, handler, bufnr)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function cancel(client, id)
  if vim.fn.has('nvim-0.11') == 1 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

-- LSP character offset -> byte column in `line`.
local function byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if vim.fn.has('nvim-0.11') == 1 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and col or math.min(character, #line)
end

function M.clear(bufnr)
  local s = state[bufnr]
  if s then
    s.item = nil
    if s.request_id then
      cancel(s.client, s.request_id)
      s.request_id = nil
    end
  end
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

-- The text still to type, or nil when the item does not extend what is typed.
local function remainder(item, line, row, col, encoding)
  local text = item.insertText
  if type(text) == 'table' then -- snippet: show its plain text
    text = text.value:gsub('%$%{%d+:?([^}]*)%}', '%1'):gsub('%$%d+', '')
  end
  local start = col
  if item.range then
    if item.range.start.line ~= row or item.range['end'].line ~= row then
      return nil
    end
    start = byte_col(line, item.range.start.character, encoding)
  end
  local typed = line:sub(start + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  return text:sub(#typed + 1), start
end

local function show(bufnr, row, col, rest)
  local lines = vim.split(rest, '\n', { plain = true })
  if lines[1] == '' and #lines == 1 then
    return
  end
  local line_len = #(api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or '')
  local pos = 'inline'
  if vim.fn.has('nvim-0.10') == 0 then
    pos = col >= line_len and 'overlay' or 'eol'
  end
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], 'HeedGhostText' } })
  end
  api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = { { lines[1], 'HeedGhostText' } },
    virt_text_pos = pos,
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
  })
end

local function ask(bufnr)
  local s = state[bufnr]
  if not s or api.nvim_get_current_buf() ~= bufnr or not api.nvim_get_mode().mode:match('^i') then
    return
  end
  M.clear(bufnr)
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local cursor = api.nvim_win_get_cursor(0)
  local params = vim.lsp.util.make_position_params(0, s.client.offset_encoding)
  params.context = { triggerKind = TRIGGER_AUTOMATIC }
  local ok, id = request(s.client, 'textDocument/inlineCompletion', params, function(err, result)
    s.request_id = nil
    local now = api.nvim_win_get_cursor(0)
    -- Drop stale answers: the buffer or cursor moved on while the model was thinking.
    if err or not result or api.nvim_get_current_buf() ~= bufnr
      or api.nvim_buf_get_changedtick(bufnr) ~= tick or now[1] ~= cursor[1] or now[2] ~= cursor[2] then
      return
    end
    local items = result.items or result
    local row, col = cursor[1] - 1, cursor[2]
    local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    for _, item in ipairs(items) do
      local rest, start = remainder(item, line, row, col, s.client.offset_encoding)
      if rest and rest ~= '' then
        s.item = { row = row, start = start, col = col, text = line:sub(start + 1, col) .. rest, rest = rest }
        show(bufnr, row, col, rest)
        return
      end
    end
  end, bufnr)
  if ok then
    s.request_id = id
  end
end

local function schedule(bufnr, delay)
  local s = state[bufnr]
  if s.timer then
    s.timer:stop()
  else
    s.timer = vim.loop.new_timer()
  end
  s.timer:start(delay, 0, vim.schedule_wrap(function()
    ask(bufnr)
  end))
end

function M.attach(client, bufnr, debounce_ms)
  if state[bufnr] then
    state[bufnr].client = client
    return
  end
  state[bufnr] = { client = client }
  local group = api.nvim_create_augroup('heed_ghost_' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
      schedule(bufnr, debounce_ms)
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      local item = state[bufnr].item
      local cur = api.nvim_win_get_cursor(0)
      if item and (cur[1] - 1 ~= item.row or cur[2] ~= item.col) then
        M.clear(bufnr)
      end
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      if state[bufnr].timer then
        state[bufnr].timer:stop()
      end
      M.clear(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'BufUnload' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = state[bufnr]
      if s and s.timer then
        s.timer:stop()
        s.timer:close()
      end
      state[bufnr] = nil
    end,
  })
end

-- The ghost text shown in `bufnr` (for tests and statuslines), or nil.
function M.text(bufnr)
  local s = state[bufnr or api.nvim_get_current_buf()]
  return s and s.item and s.item.rest or nil
end

-- Insert the shown suggestion. Returns false when nothing is shown. Safe from <expr> maps.
function M.accept(bufnr)
  local s = state[bufnr]
  local item = s and s.item
  if not item then
    return false
  end
  M.clear(bufnr)
  vim.schedule(function()
    local lines = vim.split(item.text, '\n', { plain = true })
    api.nvim_buf_set_text(bufnr, item.row, item.start, item.row, item.col, lines)
    local last = #lines == 1 and item.start + #lines[1] or #lines[#lines]
    api.nvim_win_set_cursor(0, { item.row + #lines, last })
  end)
  return true
end

return M
