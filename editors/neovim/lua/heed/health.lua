-- :checkhealth heed
local config = require('heed.config')

local M = {}

-- vim.health.start/ok/... (0.10+), vim.health.report_* (0.8-0.9), health#report_* (0.7).
local function reporter(name)
  local h = vim.health or {}
  return h[name] or h['report_' .. name] or function(msg, advice)
    if advice then
      vim.fn['health#report_' .. name](msg, advice)
    else
      vim.fn['health#report_' .. name](msg)
    end
  end
end
local start, ok, warn, error, info = reporter('start'), reporter('ok'), reporter('warn'), reporter('error'), reporter('info')

local function run(cmd)
  local out = vim.fn.system(cmd)
  return vim.v.shell_error, vim.trim(out or '')
end

local INSTALL_ADVICE = {
  "Install heed into the plugin's own venv: :HeedInstall (lazy.nvim's build step runs the same)",
  'or into a Python of yours: `python3 -m pip install heed-lsp` '
    .. '(heed-lsp is heed; the `heed` package on PyPI is an unrelated project)',
  "or point at the right Python: require('heed').setup{ python = '/path/to/venv/bin/python' }",
}

function M.check()
  start('heed')
  local effective = config.effective()
  local cmd = effective.cmd
  if vim.fn.executable(cmd[1]) ~= 1 then
    error(('server command not found: %s (from %s)'):format(cmd[1], effective.source), INSTALL_ADVICE)
    return
  end
  local path = vim.fn.exepath(cmd[1])
  ok(('server command: %s (from %s%s)'):format(
    table.concat(cmd, ' '),
    effective.source,
    (path ~= '' and path ~= cmd[1]) and ('; ' .. cmd[1] .. ' is ' .. path) or ''
  ))

  local version_cmd = config.cli({ '--version' })
  if not version_cmd then
    info('custom cmd: skipping `heed --version` and `heed check`')
  else
    local code, out = run(version_cmd)
    if code ~= 0 then
      error('`' .. table.concat(version_cmd, ' ') .. '` failed: ' .. out, INSTALL_ADVICE)
      return
    end
    ok('version: ' .. out)
    local check_cmd = { 'check' }
    local model = effective.settings.modelPath
    if model and model ~= '' then
      vim.list_extend(check_cmd, { '--model', model })
    end
    code, out = run(config.cli(check_cmd))
    if code == 0 then
      ok('model: ' .. out)
    else
      error('model did not load: ' .. out, { 'Check settings.modelPath, or leave it empty for the bundled model' })
    end
  end

  if vim.lsp.inline_completion then
    ok('ghost text: vim.lsp.inline_completion (native)')
  else
    ok('ghost text: heed extmarks (this Neovim has no vim.lsp.inline_completion)')
  end
  if vim.lsp.completion and vim.lsp.completion.enable then
    ok('popup: vim.lsp.completion')
  else
    ok("popup: omnifunc, opened after '.'")
  end

  local last = require('heed.status').last
  if last then
    local report = (last.state == 'ready' or last.state == 'loading') and ok or warn
    report(('server state: %s, model %s %s'):format(last.state, last.model or '?', last.message or ''))
  else
    info('server not running in this session (open a Python file)')
  end
end

return M
