-- Options for the heed plugin and the LSP client config built from them.
-- Kept free of side effects so lsp/heed.lua (0.11+) and setup() (0.7-0.10) share it.
local M = {}

M.defaults = {
  -- Full server command; nil: `<python> -m heed serve`, else `heed serve` from PATH, else the
  -- plugin's own venv (require('heed.install').run()), else `python3 -m heed serve`.
  cmd = nil,
  -- Python that has heed installed (used when cmd is nil).
  python = nil,
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', 'requirements.txt', '.git' },
  -- Sent to the server as initializationOptions and as settings.heed (same keys as VS Code).
  settings = {
    modelPath = '',
    inline = { enabled = true, beamWidth = 4, maxTokens = 16, alternatives = 3, minConfidence = -1 },
    completion = { maxItems = 20 },
    -- The workspace index (the project's classes, names and n-grams); exclude: .gitignore patterns.
    index = { enabled = true, exclude = {} },
    -- Learn the project by itself when it has not, or when a tenth of its files changed since
    -- (:HeedLearn does it on demand); minutes: each run's time budget.
    learn = { automatic = false, minutes = 3 },
    torchThreads = 0,
    logLevel = 'info',
  },
  popup = { enabled = true, autotrigger = true },
  ghost_text = {
    accept_key = '<Tab>', -- accepts when ghost text is visible, else types the key
    debounce_ms = 150, -- pause in insert mode before asking (extmark fallback only)
    native = true, -- use vim.lsp.inline_completion when this Neovim has it (0.12+)
  },
  on_attach = nil, -- extra user callback(client, bufnr)
}

M.options = vim.deepcopy(M.defaults)

function M.set(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  return M.options
end

local function executable(bin)
  return bin and vim.fn.executable(bin) == 1
end

-- The plugin's own environment, made by require('heed.install').run() (lazy.nvim's build step,
-- or :HeedInstall): a venv with heed.
function M.venv_dir()
  return vim.fn.stdpath('data') .. '/heed/venv'
end

function M.venv_python()
  if vim.fn.has('win32') == 1 then
    return M.venv_dir() .. '/Scripts/python.exe'
  end
  return M.venv_dir() .. '/bin/python'
end

-- The command that starts the server, and where it was found (for :checkhealth).
function M.resolve()
  local o = M.options
  if o.cmd then
    return o.cmd, 'the cmd option'
  end
  if o.python then
    return { o.python, '-m', 'heed', 'serve' }, 'the python option'
  end
  if executable('heed') then
    return { 'heed', 'serve' }, 'heed on PATH: ' .. vim.fn.exepath('heed')
  end
  local venv_python = M.venv_python()
  if executable(venv_python) then
    return { venv_python, '-m', 'heed', 'serve' }, "the plugin's venv: " .. M.venv_dir()
  end
  local python = executable('python3') and 'python3' or 'python'
  local source = ('%s on PATH: no heed on PATH, no plugin venv at %s'):format(python, M.venv_dir())
  return { python, '-m', 'heed', 'serve' }, source
end

function M.cmd()
  return (M.resolve())
end

-- The config in force: on 0.11+ vim.lsp.config('heed', ...) may have overridden ours.
-- `source` says where the command came from.
function M.effective()
  local cfg = vim.fn.has('nvim-0.11') == 1 and vim.lsp.config and vim.lsp.config.heed
  local settings = cfg and cfg.settings and cfg.settings.heed
  local cmd, source = M.resolve()
  if cfg and type(cfg.cmd) == 'table' and not vim.deep_equal(cfg.cmd, cmd) then
    cmd, source = cfg.cmd, "vim.lsp.config('heed')"
  end
  return {
    cmd = cmd,
    source = source,
    settings = vim.tbl_deep_extend('force', M.options.settings, settings or {}),
  }
end

-- The same program with other arguments (`--version`, `check`), or nil for a custom cmd.
function M.cli(args)
  local cmd = M.effective().cmd
  local base = {}
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      return vim.list_extend(base, args)
    end
    table.insert(base, part)
  end
  return nil
end

-- Client config understood by vim.lsp.config (0.11+), vim.lsp.start and vim.lsp.start_client.
function M.lsp_config()
  local o = M.options
  return {
    name = 'heed',
    cmd = M.cmd(),
    filetypes = { 'python' },
    root_markers = o.root_markers,
    settings = { heed = o.settings },
    -- One source of truth: initializationOptions mirror settings.heed at start.
    before_init = function(params, config)
      params.initializationOptions = (config.settings or {}).heed
    end,
    handlers = { ['heed/status'] = require('heed.status').handler },
  }
end

return M
