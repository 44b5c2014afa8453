-- Load guard, and the LspAttach hook that lsp/heed.lua relies on (0.8+; 0.7 uses on_attach).
if vim.g.loaded_heed then
  return
end
vim.g.loaded_heed = 1

if vim.fn.has('nvim-0.11') == 1 then
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('heed_attach', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'heed' then
        require('heed.attach').on_attach(client, args.buf)
      end
    end,
  })
end

vim.api.nvim_create_user_command('HeedRestart', function()
  require('heed').restart()
end, { desc = 'Restart the heed language server' })

vim.api.nvim_create_user_command('HeedInstall', function()
  require('heed.install').command()
end, { desc = "Make or upgrade heed's own venv under stdpath('data')" })

vim.api.nvim_create_user_command('HeedLearn', function()
  require('heed').execute('heed.learnProject')
end, { desc = "Fine-tune heed's model on this workspace (heed adapt, in the background) and use it" })

vim.api.nvim_create_user_command('HeedForget', function()
  require('heed').execute('heed.forgetProject')
end, { desc = 'Delete the model heed adapted to this workspace and go back to the bundled one' })
