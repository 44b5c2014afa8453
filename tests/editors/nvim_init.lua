-- Test driver run by test_neovim.py: `nvim --headless -u nvim_init.lua demo.py`.
-- Loads the plugin from editors/neovim, types after `os.`, records popup items and ghost text
-- into $HEED_TEST_OUT as JSON, then quits. Env: HEED_PLUGIN_DIR, HEED_TEST_CMD (JSON list),
-- HEED_TEST_MODE ('setup' = require('heed').setup, 'enable' = vim.lsp.enable on 0.11+).
vim.opt.runtimepath:prepend(os.getenv('HEED_PLUGIN_DIR'))
vim.opt.completeopt = { 'menuone', 'noselect' }
vim.opt.swapfile = false
vim.opt.shortmess:append('I')

local result = { version = tostring(vim.version and vim.version().major .. '.' .. vim.version().minor) }
local cmd = vim.fn.json_decode(os.getenv('HEED_TEST_CMD'))
local mode = os.getenv('HEED_TEST_MODE') or 'setup'
result.mode = mode

if mode == 'enable' then
  -- minConfidence 0: ghost text whatever its confidence, so the test checks the plumbing, not the model
  local settings = vim.deepcopy(require('heed.config').defaults.settings)
  settings.inline.minConfidence = 0
  vim.lsp.config('heed', { cmd = cmd, settings = { heed = settings } })
  vim.lsp.enable('heed')
else
  local inline = os.getenv('HEED_TEST_INLINE') ~= '0'
  require('heed').setup({ cmd = cmd, ghost_text = { debounce_ms = 50 }, settings = { inline = { enabled = inline, minConfidence = 0 } } }) -- as above
end

local function finish(reason)
  result.finish = reason
  result.messages = vim.fn.execute('messages')
  result.status = vim.g.heed_status
  vim.fn.writefile({ vim.fn.json_encode(result) }, os.getenv('HEED_TEST_OUT'))
  vim.cmd('qall!')
end

local function wait_for(what, cond, timeout_ms, next, on_timeout)
  local waited = 0
  local function poll()
    local ok, value = pcall(cond)
    if ok and value then
      return next(value)
    end
    waited = waited + 50
    if waited > timeout_ms then
      if on_timeout then
        return on_timeout()
      end
      return finish('timeout waiting for ' .. what .. (ok and '' or (': ' .. tostring(value))))
    end
    vim.defer_fn(poll, 50)
  end
  poll()
end

local function feed(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, true, true), 'mt', false)
end

local function heed_client()
  local list = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  for _, c in ipairs(list) do
    if c.name == 'heed' and c.initialized ~= false and c.server_capabilities then
      return c
    end
  end
end

local function popup_items()
  if vim.fn.pumvisible() == 0 then
    return nil
  end
  local items = vim.fn.complete_info({ 'items' }).items
  local words = {}
  for _, it in ipairs(items) do
    table.insert(words, it.abbr ~= '' and it.abbr or it.word)
  end
  return #words > 0 and words or nil
end

-- Ghost text: native extmarks on 0.12, heed's own elsewhere.
local function ghost_text()
  local bufnr = vim.api.nvim_get_current_buf()
  for name, ns in pairs(vim.api.nvim_get_namespaces()) do
    if name == 'nvim.lsp.inline_completion' or name == 'heed_ghost' then
      for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
        local chunks = m[4].virt_text or {}
        local text = ''
        for _, chunk in ipairs(chunks) do
          text = text .. chunk[1]
        end
        if text ~= '' then
          result.ghost_ns = name
          return text
        end
      end
    end
  end
end

local function ghost_step()
  -- New line, type a prefix, wait for ghost text, then accept it with <Tab>.
  feed('<Esc>o' .. (os.getenv('HEED_GHOST_PREFIX') or 'os.pa'))
  if os.getenv('HEED_TEST_INLINE') == '0' then
    -- Inline off: give a ghost time to (wrongly) appear, and check <Tab> still types a Tab.
    return vim.defer_fn(function()
      result.ghost = ghost_text() or vim.NIL
      feed('<C-e><Tab>')
      vim.defer_fn(function()
        result.line_after_accept = vim.api.nvim_get_current_line()
        finish('done')
      end, 300)
    end, 1500)
  end
  -- An editor asks again when the text changes: where no ghost text came for the line as typed
  -- (in about one run in four of this folder the server's one answer was empty; not understood
  -- yet, see the closing note of issue #16), type a character and take it back, as a user would,
  -- at most twice. The test prints how often it had to.
  result.ghost_retries = 0
  local function accept(text)
    result.ghost = text
    result.line_before_accept = vim.api.nvim_get_current_line()
    feed('<Tab>')
    vim.defer_fn(function()
      result.line_after_accept = vim.api.nvim_get_current_line()
      finish('done')
    end, 300)
  end
  local function retry()
    if result.ghost_retries >= 2 then
      return finish('timeout waiting for ghost text')
    end
    result.ghost_retries = result.ghost_retries + 1
    feed('t<BS>')
    wait_for('ghost text', ghost_text, 6000, accept, retry)
  end
  wait_for('ghost text', ghost_text, 6000, accept, retry)
end

local function popup_step()
  vim.api.nvim_win_set_cursor(0, { vim.fn.search('^os$'), 0 })
  feed('A.') -- on the line `os`: typing the trigger character opens the popup
  wait_for('popup', popup_items, 20000, function(words)
    result.popup = words
    ghost_step()
  end)
end

vim.api.nvim_create_autocmd('VimEnter', {
  callback = function()
    wait_for('client', heed_client, 30000, function(client)
      result.attached = true
      result.inline_provider = client.server_capabilities.inlineCompletionProvider ~= nil
      -- While the model loads the server answers with empty lists: wait for heed/status.
      wait_for('heed/status ready', function()
        return vim.g.heed_status == 'ready' or vim.g.heed_status == 'fallback'
      end, 60000, popup_step)
    end)
  end,
})
