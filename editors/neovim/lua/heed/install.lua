-- The plugin's own environment: a venv at config.venv_dir() (stdpath('data')/heed/venv) holding
-- heed (no torch: the server completes without it, and :HeedLearn offers to install torch's CPU
-- build when it first needs it). config.resolve() starts the server from it when no cmd or
-- python is set and `heed` is not on PATH. Run by lazy.nvim's build step or :HeedInstall;
-- Neovim 0.7+ (jobstart and vim.wait, no vim.system).
local config = require('heed.config')

local M = {}

-- heed on the package index (`heed` there is an unrelated project).
M.distribution = 'heed-lsp'
-- PyTorch's CPU-only builds: a bare `torch` requirement pulls the CUDA build on Linux (several GB).
M.torch_index = 'https://download.pytorch.org/whl/cpu'
M.timeout_ms = 30 * 60 * 1000

-- The heed checkout this plugin runs from (editors/neovim/lua/heed/install.lua), if it is one:
-- the server then comes from the same source as the plugin.
function M.checkout()
  local here = debug.getinfo(1, 'S').source:gsub('^@', '')
  local root = vim.fn.fnamemodify(here, ':p:h:h:h:h:h')
  local pyproject = root .. '/pyproject.toml'
  if vim.fn.filereadable(pyproject) == 1 then
    for _, line in ipairs(vim.fn.readfile(pyproject, '', 50)) do
      if line:match('^name%s*=%s*"' .. vim.pesc(M.distribution) .. '"') then
        return root
      end
    end
  end
  return nil
end

-- Runs `cmd` (a list, no shell) to the end; returns its exit code and its output lines.
local function exec(cmd)
  local lines = {}
  local function add(line)
    line = line:gsub('\r$', '')
    if line ~= '' then
      table.insert(lines, line)
    end
  end
  -- A job's output comes in chunks whose first item continues the last line of the one before.
  local function collector()
    local partial = ''
    return function(_, data)
      data = data or {}
      if #data == 0 then
        return
      end
      data[1] = partial .. data[1]
      partial = table.remove(data)
      for _, line in ipairs(data) do
        add(line)
      end
    end, function()
      add(partial)
      partial = ''
    end
  end
  local on_stdout, flush_stdout = collector()
  local on_stderr, flush_stderr = collector()
  local code
  local ok, job = pcall(vim.fn.jobstart, cmd, {
    on_stdout = on_stdout,
    on_stderr = on_stderr,
    on_exit = function(_, c)
      flush_stdout()
      flush_stderr()
      code = c
    end,
  })
  if not ok or job <= 0 then
    return -1, { ('cannot run %s: %s'):format(cmd[1], ok and 'not executable' or tostring(job)) }
  end
  if not vim.wait(M.timeout_ms, function()
    return code ~= nil
  end, 200) then
    vim.fn.jobstop(job)
    return -1, vim.list_extend(lines, { ('timed out after %d s'):format(M.timeout_ms / 1000) })
  end
  return code, lines
end

local function tail(lines, n)
  return table.concat(vim.list_slice(lines, math.max(1, #lines - n + 1)), '\n')
end

-- `python` (a command list) if it is a Python 3.10+ with venv, else nil and why not.
local function usable_python(python)
  local check = 'import sys, venv; print("%d.%d" % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 10) else 3)'
  local code, out = exec(vim.list_extend(vim.deepcopy(python), { '-c', check }))
  if code == 0 then
    return true
  end
  local label = table.concat(python, ' ')
  if code == 3 then
    return false, ('%s is Python %s; heed needs 3.10+'):format(label, out[#out] or '?')
  end
  return false, ('%s: %s'):format(label, tail(out, 2))
end

-- The Python to make the venv with, or nil and why none would do.
local function base_python(opts)
  local tried = {}
  local names = opts.python and { opts.python } or { 'python3', 'python' }
  for _, name in ipairs(names) do
    local python = type(name) == 'table' and name or { name }
    if vim.fn.executable(python[1]) == 1 then
      local ok, why = usable_python(python)
      if ok then
        return python
      end
      table.insert(tried, why)
    else
      table.insert(tried, python[1] .. ': not found')
    end
  end
  return nil, 'no Python 3.10+ to make the venv with (' .. table.concat(tried, '; ') .. ')'
end

-- 0.11+ keeps the command resolved when lsp/heed.lua or setup() ran (lazy.nvim loads the plugin
-- before its build step): where that was the bare `python3 -m heed serve` fallback, point it at
-- the venv just made, so the next start uses it.
local function repoint()
  local cfg = vim.fn.has('nvim-0.11') == 1 and vim.lsp.config and vim.lsp.config.heed
  local cmd, source = config.resolve()
  local fallback = cfg and type(cfg.cmd) == 'table' and (cfg.cmd[1] == 'python3' or cfg.cmd[1] == 'python')
  if fallback and source:find("plugin's venv", 1, true) then
    vim.lsp.config('heed', { cmd = cmd })
  end
end

-- Makes or upgrades the plugin's venv. opts (all optional):
--   python      the Python to make the venv with (a name, path or command list; default python3, python)
--   source      what pip installs as heed (default: this checkout if the plugin runs from one, else heed-lsp)
--   torch_index also install torch now (for :HeedLearn), from this index (M.torch_index: the CPU
--               build); default nil: no torch, the server offers it when learning needs it
--   pip_args    extra arguments for both pip installs (e.g. { '--no-index', '--find-links', DIR })
--   progress    fun(msg) told each step (lazy.nvim: coroutine.yield shows it in its build log)
-- Returns the venv's python; raises an error with the failing step's output. A venv that did not
-- exist before and failed to install is removed, so nothing half-installed is left behind.
function M.run(opts)
  opts = opts or {}
  local say = opts.progress or function(msg)
    vim.notify('heed: ' .. msg, vim.log.levels.INFO)
  end
  local dir, python = config.venv_dir(), config.venv_python()
  local fresh = vim.fn.isdirectory(dir) == 0
  -- Steps return an error message rather than raise one: `progress` may be coroutine.yield, and
  -- nothing here yields across a pcall.
  local function step(what, cmd)
    say(what)
    local code, out = exec(cmd)
    if code ~= 0 then
      return nil, ('%s failed (exit %d): %s\n%s'):format(what, code, table.concat(cmd, ' '), tail(out, 15))
    end
    return out
  end
  local function install()
    if vim.fn.executable(python) ~= 1 then
      if not fresh then
        -- A folder without a working python is a broken venv: make it again.
        vim.fn.delete(dir, 'rf')
        fresh = true
      end
      local base, why = base_python(opts)
      if not base then
        return why
      end
      vim.fn.mkdir(vim.fn.fnamemodify(dir, ':h'), 'p')
      local _, err = step('making the venv at ' .. dir, vim.list_extend(vim.deepcopy(base), { '-m', 'venv', dir }))
      if err then
        return err .. '\n(on Debian and Ubuntu the venv module is the python3-venv package)'
      end
    end
    local pip = { python, '-m', 'pip', 'install', '--disable-pip-version-check' }
    local extra = opts.pip_args or {}
    if type(opts.torch_index) == 'string' then
      local index = opts.torch_index
      local args = vim.list_extend(vim.list_extend(vim.deepcopy(pip), { 'torch', '--index-url', index }), extra)
      local _, err = step('installing torch (CPU build) from ' .. index, args)
      if err then
        return err
      end
    end
    local source = opts.source or M.checkout() or M.distribution
    local args = vim.list_extend(vim.list_extend(vim.deepcopy(pip), { '--upgrade', source }), extra)
    local _, err = step('installing heed from ' .. source, args)
    if err then
      return err
    end
    local out
    out, err = step('checking heed', { python, '-m', 'heed', '--version' })
    if err then
      return err
    end
    say(('%s installed in %s'):format(out[#out] or 'heed', dir))
  end
  local err = install()
  if err then
    if fresh then
      vim.fn.delete(dir, 'rf')
    end
    error('heed install: ' .. err, 0)
  end
  repoint()
  return python
end

-- :HeedInstall: the same, its messages shown as they come; a failure is one error message.
function M.command()
  local ok, err = pcall(M.run, {
    progress = function(msg)
      vim.api.nvim_echo({ { 'heed: ' .. msg } }, true, {})
      vim.cmd('redraw')
    end,
  })
  if not ok then
    vim.notify(tostring(err), vim.log.levels.ERROR)
    return
  end
  vim.notify('heed: installed; :HeedRestart starts the server from ' .. config.cmd()[1], vim.log.levels.INFO)
end

return M
