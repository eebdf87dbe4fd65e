-- Server status for humans: caches the `sc2/status` notifications the server pushes, renders a
-- statusline component, and formats the `sc2.status` command's answer for :Sc2Status.
local server = require('sc2_lsp.server')

local M = {}

---@type table<integer, table> client id -> last sc2/status payload
M.by_client = {}

--- Handler for the server's `sc2/status` notification.
function M.on_status(_, result, ctx)
  M.by_client[ctx.client_id] = result
  if vim.in_fast_event() then
    vim.schedule(function()
      M.announce(ctx.client_id, result)
    end)
  else
    M.announce(ctx.client_id, result)
  end
end

--- Fire `User Sc2Status` (data: client_id, status) and redraw statuslines.
function M.announce(client_id, result)
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'Sc2Status',
    modeline = false,
    data = { client_id = client_id, status = result },
  })
  pcall(vim.cmd.redrawstatus)
end

--- Statusline component for the current buffer: "" when no sc2-lsp client is attached.
---@return string
function M.statusline()
  local client = server.client(0)
  if not client then
    return ''
  end
  local status = M.by_client[client.id]
  local model = status and status.model or {}
  if M.refusal(status, 0) then
    return 'sc2: off here'
  elseif model.state == 'ready' then
    if status.generating then
      return 'sc2: …'
    end
    return 'sc2: ready'
  elseif model.state == 'failed' then
    return 'sc2: failed'
  elseif model.state == 'restarting' then
    return 'sc2: restarting'
  elseif model.state == 'unloaded' then
    return 'sc2: idle'
  elseif model.state == 'loading' then
    return 'sc2: loading'
  end
  return 'sc2: starting'
end

--- Why the server gives a buffer no completion (a secret-like or ignored file), if it does.
---@param status table? the sc2/status payload
---@param bufnr integer
---@return string?
function M.refusal(status, bufnr)
  local refused = status and status.refusedDocuments
  if type(refused) ~= 'table' then
    return nil
  end
  return refused[vim.uri_from_bufnr(bufnr)]
end

local function yesno(value)
  return value and 'yes' or 'no'
end

--- Human-readable lines for a status payload.
---@param status table the sc2.status payload
---@param engine string? which ghost-text path is in use
---@return string[]
function M.format(status, engine)
  local model = status.model or {}
  local lines = {
    ('sc2-lsp %s, model %s%s'):format(
      status.version or '?',
      model.state or '?',
      model.path and (': ' .. model.path) or ''
    ),
  }
  if model.error and model.error ~= vim.NIL then
    table.insert(lines, 'error: ' .. tostring(model.error))
  end
  if model.template and model.template ~= vim.NIL then
    table.insert(lines, 'template: ' .. tostring(model.template))
  end
  table.insert(
    lines,
    ('requests %s, generations %s, cancelled %s, last latency %s ms, generating %s'):format(
      status.requests or 0,
      status.generations or 0,
      status.cancelled or 0,
      status.lastLatencyMs or 0,
      yesno(status.generating)
    )
  )
  if type(status.refusedDocuments) == 'table' then
    for uri, reason in pairs(status.refusedDocuments) do
      table.insert(lines, ('no completion in %s: %s'):format(vim.uri_to_fname(uri), reason))
    end
  end
  if engine then
    table.insert(lines, ('Neovim %s, ghost text: %s'):format(tostring(vim.version()), engine))
  end
  return lines
end

--- Ask the server for `sc2.status`; falls back to the last pushed status if the request fails.
---@param bufnr integer?
---@param callback fun(status: table?, err: string?)
function M.fetch(bufnr, callback)
  local client = server.client(bufnr, true)
  if not client then
    callback(nil, 'no sc2-lsp client is running (open a file of a configured filetype)')
    return
  end
  server.command(client, 'sc2.status', function(err, result)
    if err or type(result) ~= 'table' then
      local cached = M.by_client[client.id]
      callback(cached, cached == nil and ('sc2.status failed: ' .. vim.inspect(err)) or nil)
      return
    end
    M.by_client[client.id] = result
    callback(result)
  end)
end

return M
