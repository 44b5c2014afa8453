-- Neovim 0.11+: `vim.lsp.enable('heed')` (override with `vim.lsp.config('heed', {...})`).
-- Popup and ghost text are switched on by plugin/heed.lua's LspAttach autocmd.
return require('heed.config').lsp_config()
