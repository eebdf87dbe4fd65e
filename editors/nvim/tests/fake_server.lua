-- An in-process LSP server for plugin tests (vim.lsp `cmd` may be a function returning the
-- RPC object). It advertises inline completion and lets the test decide what each
-- textDocument/inlineCompletion gets and when: answer now (`respond`) or hold it (`hold`).
local M = {}

function M.new()
  local fake = {
    requests = {}, -- every inlineCompletion request: { params, id, answered, cancelled }
    cancelled = {}, -- ids from $/cancelRequest
    notifications = {}, -- method -> list of params
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
              executeCommandProvider = { commands = { 'sc2.status' } },
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

--- An InlineCompletionList with one plain item per string (empty range at `pos` if given).
function M.items(texts, range)
  local items = {}
  for _, t in ipairs(texts) do
    table.insert(items, { insertText = t, range = range })
  end
  return { items = items }
end

return M
