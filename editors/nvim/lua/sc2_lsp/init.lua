-- Entry point and public API. setup() wires options, server registration, the ghost-text
-- engine (Neovim's built-in on 0.12+, the plugin's own before), keymaps, highlights and user
-- commands; the action functions below are what custom mappings (nvim-cmp, blink) call.
local config = require('sc2_lsp.config')
local server = require('sc2_lsp.server')
local status = require('sc2_lsp.status')

local M = {}

---@type 'builtin'|'plugin'|nil
M.engine_name = nil

local function engine()
  return require(M.engine_name == 'builtin' and 'sc2_lsp.builtin' or 'sc2_lsp.ghost')
end

--- Which ghost-text implementation an option value selects on this Neovim.
---@param choice 'auto'|'builtin'|'plugin'
---@return 'builtin'|'plugin'
function M.pick_engine(choice)
  if choice ~= 'plugin' and require('sc2_lsp.builtin').available() then
    return 'builtin'
  end
  return 'plugin'
end

local function highlights()
  vim.api.nvim_set_hl(0, 'Sc2Ghost', { link = 'Comment', default = true })
  vim.api.nvim_set_hl(0, 'Sc2GhostCount', { link = 'NonText', default = true })
end

local function show_status()
  status.fetch(0, function(payload, err)
    local chunks = {}
    if payload then
      for _, line in ipairs(status.format(payload, M.engine_name)) do
        table.insert(chunks, { line .. '\n' })
      end
    end
    if err then
      table.insert(chunks, { err, 'WarningMsg' })
    end
    vim.api.nvim_echo(chunks, true, {})
  end)
end

local function show_last_prompt()
  local client = server.client(0, true)
  if not client then
    vim.notify('sc2_lsp: no sc2-lsp client is running', vim.log.levels.WARN)
    return
  end
  server.command(client, 'sc2.lastPrompt', function(err, prompt)
    if err or type(prompt) ~= 'string' then
      vim.notify('sc2_lsp: no prompt yet', vim.log.levels.INFO)
      return
    end
    vim.cmd('new')
    local bufnr = vim.api.nvim_get_current_buf()
    vim.bo[bufnr].buftype = 'nofile'
    vim.bo[bufnr].bufhidden = 'wipe'
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, vim.split(prompt, '\n', { plain = true }))
    vim.bo[bufnr].modifiable = false
  end)
end

--- Configure and start. Safe to call again with new options.
---@param opts table? see README (editors/nvim/README.md) for every option
function M.setup(opts)
  local options = config.set(opts)
  if M.engine_name then
    -- A new engine must not inherit buffers the old one drew in.
    for _, client in ipairs(vim.lsp.get_clients({ name = server.name })) do
      for bufnr in pairs(client.attached_buffers) do
        engine().detach(client, bufnr)
      end
    end
  end
  M.engine_name = M.pick_engine(options.ghost)
  highlights()

  local group = vim.api.nvim_create_augroup('sc2_lsp', { clear = true })
  vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = highlights })
  -- Back in the editor: a model unloaded while idle loads again before the first keystroke.
  vim.api.nvim_create_autocmd('FocusGained', {
    group = group,
    callback = function()
      for _, client in ipairs(vim.lsp.get_clients({ name = server.name })) do
        server.notify(client, 'sc2/wake', vim.NIL)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == server.name then
        engine().attach(client, args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == server.name then
        engine().detach(client, args.buf)
      end
    end,
  })

  -- Requests made while the model loaded got nothing: once it is ready, ask again where the
  -- user is typing.
  local ready = {}
  vim.api.nvim_create_autocmd('User', {
    group = group,
    pattern = 'Sc2Status',
    callback = function(args)
      local id, payload = args.data.client_id, args.data.status
      local now = type(payload) == 'table' and vim.tbl_get(payload, 'model', 'state') == 'ready'
      local bufnr = vim.api.nvim_get_current_buf()
      local client = vim.lsp.get_client_by_id(id)
      if now and not ready[id] and client and client.attached_buffers[bufnr] then
        engine().refresh(bufnr)
      end
      ready[id] = now
    end,
  })

  server.register(options, { ['sc2/status'] = status.on_status }, options._legacy_register)
  -- Our mappings are not expr mappings, so accepting may finish synchronously (`true`).
  require('sc2_lsp.keymaps').set(options.keymaps, {
    accept = function()
      return engine().accept(nil, true)
    end,
    accept_word = function()
      return engine().accept_word(nil, true)
    end,
    accept_line = function()
      return engine().accept_line(nil, true)
    end,
    dismiss = M.dismiss,
    next = M.next,
    prev = M.prev,
    suggest = M.suggest,
  })
  vim.api.nvim_create_user_command('Sc2Status', show_status, {
    desc = 'sc2-lsp: server version, model state, counters',
  })
  vim.api.nvim_create_user_command('Sc2LastPrompt', show_last_prompt, {
    desc = 'sc2-lsp: show the last prompt sent to the model',
  })
end

--- Is ghost text shown in `bufnr` (default current)? For conditional <Tab> mappings.
---@param bufnr integer?
---@return boolean
function M.is_visible(bufnr)
  return M.engine_name ~= nil and engine().visible(bufnr)
end

--- The first line of the ghost text shown in `bufnr`, or nil.
function M.visible_text(bufnr)
  return M.engine_name and engine().visible_text(bufnr) or nil
end

-- Each action returns true when it did something, false when there was nothing to act on.

function M.accept(bufnr)
  return M.engine_name ~= nil and engine().accept(bufnr) or false
end

function M.accept_word(bufnr)
  return M.engine_name ~= nil and engine().accept_word(bufnr) or false
end

function M.accept_line(bufnr)
  return M.engine_name ~= nil and engine().accept_line(bufnr) or false
end

function M.dismiss(bufnr)
  return M.engine_name ~= nil and engine().dismiss(bufnr) or false
end

function M.next(bufnr)
  return M.engine_name ~= nil and engine().next(bufnr) or false
end

function M.prev(bufnr)
  return M.engine_name ~= nil and engine().prev(bufnr) or false
end

function M.suggest(bufnr)
  return M.engine_name ~= nil and engine().suggest(bufnr) or false
end

--- Statusline component: "sc2: ready", "sc2: …" (generating), "sc2: loading", "" (no client).
M.statusline = status.statusline

--- Change server settings at run time (merged over the current ones and pushed).
---@param settings table the "sc2" settings, camelCase
function M.set_settings(settings)
  config.options.settings = vim.tbl_deep_extend('force', config.options.settings, settings)
  server.push_settings(config.options.settings)
end

return M
