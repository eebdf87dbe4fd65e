-- An in-process LSP server for plugin tests (vim.lsp `cmd` may be a function returning the
-- RPC object). It advertises inline completion and lets the test decide what each
-- textDocument/inlineCompletion gets and when: answer now (`respond`) or hold it (`hold`).
local M = {}

function M.new()
  local fake = {
    requests = {}, -- every inlineCompletion request: { params, id, answered, cancelled }
    cancelled = {}, -- ids from $/cancelRequest
    notifications = {}, -- method -> list of params
    commands = {}, -- every workspace/executeCommand's params
    respond = nil, -- fun(params): result; nil holds requests until fake.answer()
    dispatchers = nil,
  }

  function fake.answer(index, result)
    local req = fake.requests[index]
    req.answered = true
    req.callback(nil, result)
  end

  function fake.notify_client(method, params)
    fake.dispatchers.notification(method, params)
  end

  function fake.cmd(dispatchers)
    fake.dispatchers = dispatchers
    local closing, next_id = false, 0
    local rpc = {}
    function rpc.request(method, params, callback)
      next_id = next_id + 1
      local id = next_id
      if method == 'initialize' then
        vim.schedule(function()
          callback(nil, {
            capabilities = {
              inlineCompletionProvider = true,
              textDocumentSync = { openClose = true, change = 1 },
              executeCommandProvider = {
                commands = { 'sc2.status', 'sc2.accepted', 'sc2.partiallyAccepted' },
              },
            },
            serverInfo = { name = 'fake', version = '0' },
          })
        end)
      elseif method == 'shutdown' then
        vim.schedule(function()
          callback(nil, vim.NIL)
        end)
      elseif method == 'textDocument/inlineCompletion' then
        local req = { params = params, id = id, callback = callback }
        table.insert(fake.requests, req)
        local index = #fake.requests
        if fake.respond then
          local result = fake.respond(params)
          vim.schedule(function()
            if not req.answered then
              fake.answer(index, result)
            end
          end)
        end
      else
        if method == 'workspace/executeCommand' then
          table.insert(fake.commands, params)
        end
        vim.schedule(function()
          callback(nil, vim.NIL)
        end)
      end
      return true, id
    end
    function rpc.notify(method, params)
      fake.notifications[method] = fake.notifications[method] or {}
      table.insert(fake.notifications[method], params)
      if method == '$/cancelRequest' then
        fake.cancelled[params.id] = true
      elseif method == 'exit' then
        closing = true
        vim.schedule(function()
          dispatchers.on_exit(0, 0)
        end)
      end
      return true
    end
    function rpc.is_closing()
      return closing
    end
    function rpc.terminate()
      if not closing then
        closing = true
        vim.schedule(function()
          dispatchers.on_exit(0, 15)
        end)
      end
    end
    return rpc
  end

  return fake
end

--- An InlineCompletionList with one plain item per string (with `range` if given).
function M.items(texts, range)
  local items = {}
  for _, t in ipairs(texts) do
    table.insert(items, { insertText = t, range = range })
  end
  return { items = items }
end

--- Items as sc2-lsp makes them for a request: each with its accept command (answer `id`, its
--- index, the request's position), and an empty range at the position only with `at_end`.
function M.sc2_items(texts, params, id, at_end)
  local items = {}
  local position = params.position
  for index, t in ipairs(texts) do
    table.insert(items, {
      insertText = t,
      range = at_end and { start = position, ['end'] = position } or nil,
      command = {
        title = 'accepted',
        command = 'sc2.accepted',
        arguments = { { id = id, index = index - 1, position = position } },
      },
    })
  end
  return { items = items }
end

return M
