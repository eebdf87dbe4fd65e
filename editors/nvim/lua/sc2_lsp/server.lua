-- The server's registration with Neovim's LSP client and talking to it: vim.lsp.config/enable
-- on 0.11+, a FileType autocmd with vim.lsp.start on 0.10; finding our client; and request
-- helpers that hide the 0.10 `client.request(...)` vs 0.11 `client:request(...)` difference.
local M = {}

M.name = 'sc2_lsp'

local has_011 = vim.fn.has('nvim-0.11') == 1

-- An empty Lua table would be sent as a JSON list, which the server rejects as settings.
local function object(tbl)
  return next(tbl) and tbl or vim.empty_dict()
end

--- The vim.lsp.config() table for the given plugin options.
---@param opts table plugin options (sc2_lsp.config)
---@param handlers table<string, function>
---@return table
function M.lsp_config(opts, handlers)
  local cfg = vim.tbl_deep_extend('force', {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    handlers = handlers,
  }, opts.lsp or {})
  cfg.init_options = object(vim.deepcopy(opts.settings))
  cfg.settings = { sc2 = object(vim.deepcopy(opts.settings)) }
  if not opts.popup_completion then
    -- Popup plugins would ask for textDocument/completion on every key, a second generation
    -- next to the ghost text's; on_init runs before any LspAttach so they never see it.
    local user_on_init = cfg.on_init
    cfg.on_init = function(client, result)
      client.server_capabilities.completionProvider = nil
      if user_on_init then
        return user_on_init(client, result)
      end
    end
  end
  return cfg
end

local function start_legacy(cfg, bufnr)
  if vim.bo[bufnr].buftype ~= '' then
    return
  end
  local start = vim.deepcopy(cfg)
  start.name = M.name
  start.root_dir = vim.fs.root(bufnr, cfg.root_markers or { '.git' })
  vim.lsp.start(start, { bufnr = bufnr })
end

--- Register (and enable) the server for the configured filetypes.
---@param opts table plugin options
---@param handlers table<string, function>
---@param force_legacy boolean? use the 0.10 path even on 0.11 (tests)
function M.register(opts, handlers, force_legacy)
  local cfg = M.lsp_config(opts, handlers)
  if vim.lsp.config and not force_legacy then
    vim.lsp.config(M.name, cfg)
    vim.lsp.enable(M.name)
    return
  end
  local group = vim.api.nvim_create_augroup('sc2_lsp.start', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = cfg.filetypes or '*',
    callback = function(args)
      start_legacy(cfg, args.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    local ft = vim.bo[bufnr].filetype
    if
      vim.api.nvim_buf_is_loaded(bufnr)
      and ft ~= ''
      and (not cfg.filetypes or vim.tbl_contains(cfg.filetypes, ft))
    then
      start_legacy(cfg, bufnr)
    end
  end
end

--- Our client attached to `bufnr` (default: current buffer), else any running one.
---@param bufnr integer?
---@param any boolean? fall back to a client attached elsewhere
---@return vim.lsp.Client?
function M.client(bufnr, any)
  local found = vim.lsp.get_clients({ name = M.name, bufnr = bufnr or 0 })[1]
  if not found and any then
    found = vim.lsp.get_clients({ name = M.name })[1]
  end
  return found
end

function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.request_sync(client, method, params, timeout_ms, bufnr)
  if has_011 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  return client.request_sync(method, params, timeout_ms, bufnr)
end

function M.notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel(client, request_id)
  if has_011 then
    client:cancel_request(request_id)
  else
    client.cancel_request(request_id)
  end
end

--- Run a server command (workspace/executeCommand), e.g. "sc2.status".
---@param client vim.lsp.Client
---@param command string
---@param handler fun(err: table?, result: any)
function M.command(client, command, handler)
  M.request(client, 'workspace/executeCommand', { command = command, arguments = {} }, handler)
end

--- Run an LSP command (an item's accept command) on the server: workspace/executeCommand
--- takes only its name and arguments.
---@param client vim.lsp.Client
---@param command lsp.Command
---@param bufnr integer?
function M.run_command(client, command, bufnr)
  local params = { command = command.command, arguments = command.arguments }
  M.request(client, 'workspace/executeCommand', params, function() end, bufnr)
end

--- Tell the server what was accepted (its statistics): the item's own accept command when the
--- rest of the item went in, a partial accept for a word or a line; both say how many
--- characters were inserted. Items without the server's command are not reported.
---@param client vim.lsp.Client
---@param command lsp.Command? the item's command
---@param part string what was inserted
---@param full boolean
---@param bufnr integer?
function M.report_accept(client, command, part, full, bufnr)
  local argument = command and command.arguments and command.arguments[1]
  if type(argument) ~= 'table' or argument.id == nil then
    return
  end
  local signal = vim.tbl_extend('force', argument, { length = vim.fn.strchars(part) })
  M.run_command(client, {
    command = full and command.command or 'sc2.partiallyAccepted',
    arguments = { signal },
  }, bufnr)
end

--- Push new "sc2" settings to running clients (workspace/didChangeConfiguration).
---@param settings table
function M.push_settings(settings)
  if vim.lsp.config then
    -- Clients started later (new root, restart) get them too.
    vim.lsp.config(M.name, {
      init_options = object(vim.deepcopy(settings)),
      settings = { sc2 = object(vim.deepcopy(settings)) },
    })
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = { sc2 = object(vim.deepcopy(settings)) }
    M.notify(client, 'workspace/didChangeConfiguration', { settings = client.settings })
  end
end

return M
