-- Plugin options: defaults, merging user options over them, and validation. Everything else
-- reads options through `require('sc2_lsp.config').options`.
local M = {}

M.defaults = {
  -- How to start the server; the first element must be on $PATH or an absolute path. May also
  -- be a function, as vim.lsp.config allows (an in-process RPC, used by the tests).
  cmd = { 'sc2-lsp', '--stdio' },
  -- Filetypes to attach to; false attaches to every file buffer.
  filetypes = {
    'c',
    'cpp',
    'cs',
    'css',
    'go',
    'haskell',
    'html',
    'java',
    'javascript',
    'javascriptreact',
    'json',
    'julia',
    'kotlin',
    'lua',
    'make',
    'markdown',
    'php',
    'python',
    'r',
    'ruby',
    'rust',
    'scala',
    'sh',
    'sql',
    'swift',
    'toml',
    'typescript',
    'typescriptreact',
    'vim',
    'yaml',
    'zig',
  },
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
  -- The server's "sc2" settings (camelCase, as in the server README), sent as
  -- initializationOptions and answered for workspace/configuration.
  settings = {},
  -- 'auto': Neovim's vim.lsp.inline_completion when present (0.12+), else the plugin's own.
  -- 'builtin' / 'plugin' force one ('builtin' falls back to 'plugin' when it is missing).
  ghost = 'auto',
  -- Plugin renderer only (the built-in one has its own fixed debounce).
  debounce_ms = 75,
  -- Also offer suggestions as popup items (nvim-cmp, blink.cmp, vim.lsp.completion). Off by
  -- default: each popup request is a second model generation next to the ghost text's.
  popup_completion = false,
  -- Do not draw ghost text while the popup menu is visible.
  hide_during_completion = true,
  -- Insert-mode keys; set any to false to leave that key alone.
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-C-Right>',
    dismiss = '<C-]>',
    next = '<M-]>',
    prev = '<M-[>',
    suggest = '<M-\\>',
  },
  -- Extra fields merged into the vim.lsp.config() table (on_attach, capabilities, ...).
  lsp = {},
}

M.options = vim.deepcopy(M.defaults)

local GHOST = { auto = true, builtin = true, plugin = true }

-- vim.validate's signature differs between 0.10 and 0.11, so a local check instead.
local function check(name, value, expected)
  if type(value) ~= expected then
    error(('sc2_lsp: %s must be a %s, got %s'):format(name, expected, type(value)), 3)
  end
end

--- Merge user options over the defaults; raises on wrong types so mistakes surface at setup.
---@param opts table?
---@return table
function M.set(opts)
  opts = opts or {}
  check('opts', opts, 'table')
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists replace rather than merge element-wise.
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[key] ~= nil then
      merged[key] = opts[key]
    end
  end
  if opts.filetypes == false then
    merged.filetypes = nil
  end
  if type(merged.cmd) ~= 'function' then
    check('cmd', merged.cmd, 'table')
  end
  check('settings', merged.settings, 'table')
  check('debounce_ms', merged.debounce_ms, 'number')
  check('keymaps', merged.keymaps, 'table')
  if not GHOST[merged.ghost] then
    error(("sc2_lsp: ghost must be 'auto', 'builtin' or 'plugin', got %s"):format(merged.ghost))
  end
  M.options = merged
  return merged
end

return M
