-- What heed turns on in a buffer once its client attaches: popup and ghost text.
local config = require('heed.config')

local M = {}

local function termcodes(key)
  return vim.api.nvim_replace_termcodes(key, true, true, true)
end

local function trigger_characters(client)
  local caps = client.server_capabilities or {}
  return (caps.completionProvider or {}).triggerCharacters or { '.' }
end

-- Pre-0.11: omnifunc, opened by the trigger characters (the LSP client only opens it on <C-x><C-o>).
local function omnifunc_popup(client, bufnr, autotrigger)
  vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  if not autotrigger then
    return
  end
  local triggers = {}
  for _, ch in ipairs(trigger_characters(client)) do
    triggers[ch] = true
  end
  vim.api.nvim_create_autocmd('InsertCharPre', {
    group = vim.api.nvim_create_augroup('heed_popup_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      if triggers[vim.v.char] and vim.fn.pumvisible() == 0 then
        -- After the char is inserted: the request must see it.
        vim.schedule(function()
          if vim.api.nvim_get_mode().mode == 'i' then
            vim.api.nvim_feedkeys(termcodes('<C-x><C-o>'), 'n', false)
          end
        end)
      end
    end,
  })
end

local function enable_popup(client, bufnr, popup)
  if not popup.enabled then
    return
  end
  if vim.lsp.completion and vim.lsp.completion.enable then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = popup.autotrigger })
  else
    omnifunc_popup(client, bufnr, popup.autotrigger)
  end
end

-- Accept key: accept ghost text when shown, otherwise behave as the plain key.
local function map_accept(bufnr, key, accept)
  vim.keymap.set('i', key, function()
    if accept() then
      return ''
    end
    return termcodes(key)
  end, { buffer = bufnr, expr = true, replace_keycodes = false, desc = 'heed: accept ghost text' })
end

-- settings.heed as the client was started with (vim.lsp.config may differ from setup()).
local function inline_enabled(client)
  local settings = client.config and client.config.settings or {}
  local heed = settings.heed or config.options.settings
  return not (heed.inline and heed.inline.enabled == false)
end

local function enable_ghost_text(client, bufnr, ghost)
  if not inline_enabled(client) then
    return
  end
  local native = vim.lsp.inline_completion
  if ghost.native and native and native.enable then
    native.enable(true, { bufnr = bufnr })
    map_accept(bufnr, ghost.accept_key, function()
      return native.get({ bufnr = bufnr })
    end)
  else
    local fallback = require('heed.ghost')
    fallback.attach(client, bufnr, ghost.debounce_ms)
    map_accept(bufnr, ghost.accept_key, function()
      return fallback.accept(bufnr)
    end)
  end
end

function M.on_attach(client, bufnr)
  local o = config.options
  enable_popup(client, bufnr, o.popup)
  enable_ghost_text(client, bufnr, o.ghost_text)
  if o.on_attach then
    o.on_attach(client, bufnr)
  end
end

return M
