-- require('heed').setup{...}: starts heed for Python buffers on any Neovim from 0.7.
-- On 0.11+ this is vim.lsp.config + vim.lsp.enable over lsp/heed.lua.
local config = require('heed.config')

local M = {}
local clients_by_root = {} -- 0.7: one client per project root

local function find_root(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
  local cur = dir
  while true do
    for _, marker in ipairs(config.options.root_markers) do
      if vim.loop.fs_stat(cur .. '/' .. marker) then
        return cur
      end
    end
    local parent = vim.fn.fnamemodify(cur, ':h')
    if parent == cur then
      return dir
    end
    cur = parent
  end
end

local function client_config(bufnr)
  local cfg = config.lsp_config()
  cfg.root_dir = find_root(bufnr)
  cfg.on_attach = function(client, b)
    require('heed.attach').on_attach(client, b)
  end
  return cfg
end

-- Start (or reuse) the server for `bufnr` on Neovim 0.7-0.10.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local cfg = client_config(bufnr)
  if vim.lsp.start then -- 0.8+: reuses a client with the same name and root
    vim.api.nvim_buf_call(bufnr, function()
      vim.lsp.start(cfg)
    end)
    return
  end
  local id = clients_by_root[cfg.root_dir]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(cfg)
    clients_by_root[cfg.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
end

local function heed_clients()
  local list = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  return vim.tbl_filter(function(c)
    return c.name == 'heed'
  end, list)
end

-- Ask the server to run one of its commands (`heed.learnProject`, `heed.forgetProject`); its
-- progress bar and its message arrive as $/progress and window/showMessage, like any other.
function M.execute(command, arguments)
  local clients = heed_clients()
  if #clients == 0 then
    vim.notify('heed: the server is not running in this buffer', vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = arguments or {} }
  local function done(err, result)
    if err then
      vim.notify('heed: ' .. (err.message or tostring(err)), vim.log.levels.ERROR)
    elseif type(result) == 'string' then
      vim.notify(result, vim.log.levels.INFO)
    end
  end
  if vim.fn.has('nvim-0.11') == 1 then
    clients[1]:request('workspace/executeCommand', params, done)
  else
    clients[1].request('workspace/executeCommand', params, done)
  end
end

-- Stop the server(s) and start again for every Python buffer (re-reads settings).
function M.restart()
  for _, client in ipairs(heed_clients()) do
    if vim.fn.has('nvim-0.11') == 1 then
      client:stop()
    else
      client.stop()
    end
  end
  clients_by_root = {}
  vim.defer_fn(function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype == 'python' then
        vim.api.nvim_buf_call(buf, function()
          vim.cmd('doautocmd <nomodeline> FileType python')
        end)
      end
    end
  end, 500)
end

function M.setup(opts)
  config.set(opts)
  if vim.fn.has('nvim-0.11') == 1 and vim.lsp.config then
    -- Attaching features happens in plugin/heed.lua's LspAttach autocmd.
    vim.lsp.config('heed', config.lsp_config())
    vim.lsp.enable('heed')
    return
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('heed_start', { clear = true }),
    pattern = 'python',
    callback = function(args)
      M.start(args.buf)
    end,
  })
  -- Python buffers opened before setup() ran.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype == 'python' then
      M.start(buf)
    end
  end
end

return M
