-- Ghost text through Neovim's own vim.lsp.inline_completion (0.12+): enables it for buffers
-- our client attaches to and maps the plugin's actions onto its API. Partial accepts insert
-- the word/line themselves; the built-in then re-requests for the rest as the cursor moves.
local text = require('sc2_lsp.text')

local api = vim.api
local METHOD = 'textDocument/inlineCompletion'

local M = {}

function M.available()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.get ~= nil
end

--- The built-in's extmark namespace (created when it is first used).
---@return integer?
function M.ns()
  return api.nvim_get_namespaces()['nvim.lsp.inline_completion']
end

function M.attach(_, bufnr)
  -- Per buffer: a client_id filter does not reach buffers the client attaches to later.
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
end

function M.detach() end

local function buf(bufnr)
  return (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
end

function M.visible_text(bufnr)
  local ns = M.ns()
  if not ns then
    return nil
  end
  local mark = api.nvim_buf_get_extmarks(buf(bufnr), ns, 0, -1, { details = true, limit = 1 })[1]
  return mark and mark[4].virt_text and mark[4].virt_text[1][1]
end

function M.visible(bufnr)
  return M.visible_text(bufnr) ~= nil
end

-- get() applies the item from vim.schedule(). With `wait`, wait for that here (vim.wait runs
-- scheduled callbacks, not typeahead), so keys typed right after the accept key, such as
-- <Esc>, cannot cancel it before it happened. Only our own (non-expr) mappings wait: inside an
-- expr mapping the scheduled edit would run under textlock and fail.
local function settle(wait, done)
  if wait then
    vim.wait(200, done, 1)
  end
end

function M.accept(bufnr, wait)
  bufnr = buf(bufnr)
  if not (M.visible(bufnr) and vim.lsp.inline_completion.get({ bufnr = bufnr })) then
    return false
  end
  settle(wait, function()
    return not M.visible(bufnr)
  end)
  return true
end

--- The item's text still to insert at the cursor (what lies before it in its range is typed).
local function rest_of(item, bufnr)
  local value = text.insert_text(item.insert_text)
  local row, col = unpack(api.nvim_win_get_cursor(0))
  row = row - 1
  local range = item.range
  if range and range.start.row == row and range.start.col <= col then
    local line = api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
    local typed = line:sub(range.start.col + 1, col)
    if value:sub(1, #typed) == typed then
      value = value:sub(#typed + 1)
    end
  end
  return value, row, col
end

local function accept_part(bufnr, pick, wait)
  bufnr = buf(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  local applied = false
  local ok = vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      local rest, row, col = rest_of(item, bufnr)
      local part = pick(rest)
      api.nvim_buf_set_text(bufnr, row, col, row, col, vim.split(part, '\n', { plain = true }))
      api.nvim_win_set_cursor(0, text.cursor_after(row, col, part))
      applied = true
    end,
  })
  if ok then
    settle(wait, function()
      return applied
    end)
  end
  return ok
end

function M.accept_word(bufnr, wait)
  return accept_part(bufnr, text.next_word, wait)
end

function M.accept_line(bufnr, wait)
  return accept_part(bufnr, text.next_line, wait)
end

function M.dismiss(bufnr)
  bufnr = buf(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  -- No public "hide" in the built-in: re-enabling drops the shown item. Pending requests go
  -- first, since their answers would reach the disabled instance.
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    for id, req in pairs(client.requests or {}) do
      if req.type == 'pending' and req.bufnr == bufnr and req.method == METHOD then
        client:cancel_request(id)
      end
    end
  end
  vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  return true
end

local function select(bufnr, count)
  if not M.visible(bufnr) then
    return false
  end
  vim.lsp.inline_completion.select({ bufnr = buf(bufnr), count = count })
  return true
end

function M.next(bufnr)
  return select(bufnr, 1)
end

function M.prev(bufnr)
  return select(bufnr, -1)
end

--- The built-in has no public "request now"; it asks by itself as you type.
function M.suggest()
  return false
end

return M
