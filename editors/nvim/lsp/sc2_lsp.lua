-- Default config for `vim.lsp.enable('sc2_lsp')` on Neovim 0.11+ without calling setup():
-- this file only registers the server; ghost text then comes from vim.lsp.inline_completion
-- (0.12+) or from require('sc2_lsp').setup() on 0.11.
return {
  cmd = { 'sc2-lsp', '--stdio' },
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
}
