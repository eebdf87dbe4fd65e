-- Ghost text through Neovim's own vim.lsp.inline_completion (0.12+): enables it for buffers
-- our client attaches to and maps the plugin's actions onto its API. Accepting goes through
-- get()'s on_accept, always: the item it hands over may predate what was typed since (it is
-- kept until the next answer), so only what is left of it is inserted, never the whole item
-- at its old place. Accepts and partial accepts are reported to the server (stats).
local server = require('sc2_lsp.server')
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

local function buf(bufnr)
  return (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
end

local function in_insert_mode(bufnr)
  return api.nvim_get_current_buf() == bufnr and api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- Ask now, as the built-in does after a keystroke: it has no public "request", so its own
--- CursorMovedI handler runs (debounced by it).
function M.refresh(bufnr)
  bufnr = buf(bufnr)
  if in_insert_mode(bufnr) then
    pcall(api.nvim_exec_autocmds, 'CursorMovedI', {
      group = 'nvim.lsp.inline_completion:' .. bufnr,
      modeline = false,
    })
  end
end

function M.attach(_, bufnr)
  -- Per buffer: a client_id filter does not reach buffers the client attaches to later.
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  -- Attached while the user types: the built-in asks only from the next keystroke on.
  M.refresh(bufnr)
end

function M.detach() end

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

--- Where the item's text begins: its range's start, else the position its request named (the
--- server's accept command carries it), else the cursor. 0-based row, byte column.
local function anchor(item, bufnr, row, col)
  if item.range then
    return item.range.start.row, item.range.start.col
  end
  local argument = item.command and item.command.arguments and item.command.arguments[1]
  local position = type(argument) == 'table' and argument.position
  local client = vim.lsp.get_client_by_id(item.client_id)
  if type(position) ~= 'table' or not client then
    return row, col
  end
  local line = api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, false)[1] or ''
  return position.line, text.byte_col(line, position.character, client.offset_encoding)
end

--- What is left of the item to insert at the cursor (row, col): nil when what was typed since
--- it was asked for is not its start.
local function rest_of(item, bufnr, row, col)
  local value = text.insert_text(item.insert_text)
  local arow, acol = anchor(item, bufnr, row, col)
  if row < arow or (row == arow and col < acol) then
    return nil
  end
  local typed = table.concat(api.nvim_buf_get_text(bufnr, arow, acol, row, col, {}), '\n')
  if value:sub(1, #typed) ~= typed or #typed >= #value then
    return nil
  end
  return value:sub(#typed + 1)
end

-- get() applies the item from vim.schedule(). With `wait`, wait for that here (vim.wait runs
-- scheduled callbacks, not typeahead), so keys typed right after the accept key, such as
-- <Esc>, cannot cancel it before it happened, and a stale item that no longer fits can still
-- let the key fall back. Only our own (non-expr) mappings wait: inside an expr mapping the
-- scheduled edit would run under textlock and fail.
local function take(bufnr, pick, wait)
  bufnr = buf(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  local outcome = nil
  local ok = vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      local row, col = unpack(api.nvim_win_get_cursor(0))
      row = row - 1
      local rest = rest_of(item, bufnr, row, col)
      if not rest then
        outcome = false
        return
      end
      local value, snippet = text.insert_text(item.insert_text)
      local part = snippet and rest or pick(rest)
      -- All of it replaces what its range covers after the cursor (a closing bracket).
      local range = item.range
      local last = col
      if part == rest and range and range.end_.row == row and range.end_.col > col then
        last = range.end_.col
      end
      if snippet and rest == value then
        api.nvim_buf_set_text(bufnr, row, col, row, last, { '' })
        vim.snippet.expand(rest)
      else
        api.nvim_buf_set_text(bufnr, row, col, row, last, vim.split(part, '\n', { plain = true }))
        api.nvim_win_set_cursor(0, text.cursor_after(row, col, part))
      end
      local client = vim.lsp.get_client_by_id(item.client_id)
      if client then
        server.report_accept(client, item.command, part, part == rest, bufnr)
      end
      outcome = true
    end,
  })
  if not ok then
    return false
  end
  if wait then
    vim.wait(200, function()
      return outcome ~= nil
    end, 1)
    return outcome ~= false
  end
  return true
end

function M.accept(bufnr, wait)
  return take(bufnr, function(rest)
    return rest
  end, wait)
end

function M.accept_word(bufnr, wait)
  return take(bufnr, text.next_word, wait)
end

function M.accept_line(bufnr, wait)
  return take(bufnr, text.next_line, wait)
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

--- The built-in has no public "request now"; this runs what a keystroke would.
function M.suggest(bufnr)
  bufnr = buf(bufnr)
  if not in_insert_mode(bufnr) then
    return false
  end
  M.refresh(bufnr)
  return true
end

return M
