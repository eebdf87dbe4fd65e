-- The plugin's own ghost text, for Neovim without vim.lsp.inline_completion (0.10, 0.11):
-- debounced textDocument/inlineCompletion requests on TextChangedI/CursorMovedI, cancellation
-- of stale requests, extmark rendering (inline virt_text + virt_lines), cycling through items,
-- and full or partial accept. One state table per buffer our client is attached to.
local config = require('sc2_lsp.config')
local server = require('sc2_lsp.server')
local text = require('sc2_lsp.text')

local api = vim.api
local INVOKED, AUTOMATIC = 1, 2

local M = {}

M.ns = api.nvim_create_namespace('sc2_lsp.ghost')
-- Separate namespace: the anchor must survive re-rendering the ghost text.
M.anchor_ns = api.nvim_create_namespace('sc2_lsp.ghost.anchor')

---@class sc2.Suggestion
---@field text string text to insert at the anchor
---@field suffix_len integer bytes after the anchor that accepting overwrites
---@field snippet boolean
---@field command table?

---@class sc2.GhostState
---@field client_id integer
---@field timer uv.uv_timer_t
---@field request_id integer? in-flight request, cancelled when stale
---@field seq integer bumped on every edit or move, so late answers are recognised and dropped
---@field items sc2.Suggestion[]
---@field index integer
---@field anchor integer? extmark id in anchor_ns where the items' text begins
---@field hint boolean show "(i/n)" after cycling

---@type table<integer, sc2.GhostState>
M.states = {}

--- 0-based row and byte column of the cursor, when `bufnr` is the current buffer.
local function cursor(bufnr)
  if api.nvim_get_current_buf() ~= bufnr then
    return nil
  end
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function hide(bufnr)
  api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
end

local function clear_items(s, bufnr)
  s.items, s.index, s.hint = {}, 1, false
  if s.anchor then
    pcall(api.nvim_buf_del_extmark, bufnr, M.anchor_ns, s.anchor)
    s.anchor = nil
  end
  hide(bufnr)
end

--- Cancel the pending debounce and the in-flight request; any answer still coming is stale.
local function invalidate(s)
  s.seq = s.seq + 1
  s.timer:stop()
  if s.request_id then
    local client = vim.lsp.get_client_by_id(s.client_id)
    if client then
      server.cancel(client, s.request_id)
    end
    s.request_id = nil
  end
end

--- What is left of the current item to insert at the cursor, given what was typed since it was
--- shown; nil when the user typed something else or moved away.
---@return string?, sc2.Suggestion?
local function remaining(s, bufnr)
  local item = s.items[s.index]
  local row, col = cursor(bufnr)
  if not item or not s.anchor or not row then
    return nil
  end
  local mark = api.nvim_buf_get_extmark_by_id(bufnr, M.anchor_ns, s.anchor, {})
  local arow, acol = mark[1], mark[2]
  if not arow or row < arow or (row == arow and col < acol) then
    return nil
  end
  local _, newlines = item.text:gsub('\n', '')
  if row - arow > newlines then
    return nil
  end
  local typed = table.concat(api.nvim_buf_get_text(bufnr, arow, acol, row, col, {}), '\n')
  if #typed >= #item.text or item.text:sub(1, #typed) ~= typed then
    return nil
  end
  return item.text:sub(#typed + 1), item
end

--- Draw the current item at the cursor; false when there is nothing (consistent) to draw.
local function render(s, bufnr)
  hide(bufnr)
  local rest, item = remaining(s, bufnr)
  if not rest or not item then
    return false
  end
  local row, col = cursor(bufnr)
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local lines = text.display_lines(rest, line:sub(col + 1, col + item.suffix_len))
  local virt_text = { { lines[1], 'Sc2Ghost' } }
  if s.hint and #s.items > 1 then
    table.insert(virt_text, { (' (%d/%d)'):format(s.index, #s.items), 'Sc2GhostCount' })
  end
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], 'Sc2Ghost' } }
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, row, col, {
    virt_text = virt_text,
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
  })
  return true
end

local function show_items(s, bufnr, items, row, col)
  clear_items(s, bufnr)
  if #items == 0 then
    return
  end
  s.items = items
  s.anchor = api.nvim_buf_set_extmark(bufnr, M.anchor_ns, row, col, { right_gravity = false })
  if config.options.hide_during_completion and vim.fn.pumvisible() == 1 then
    return
  end
  render(s, bufnr)
end

--- Normalized, de-duplicated suggestions from an inlineCompletion result.
local function suggestions(result, line, col, encoding, row)
  local items, seen = {}, {}
  for _, item in ipairs(result.items or result) do
    local s = text.normalize(item, line, col, encoding, row)
    if s and not seen[s.text] then
      seen[s.text] = true
      items[#items + 1] = s
    end
  end
  return items
end

local function request(bufnr, kind)
  local s = M.states[bufnr]
  local client = s and vim.lsp.get_client_by_id(s.client_id)
  local row, col = cursor(bufnr)
  if not client or not row or not in_insert_mode() then
    return false
  end
  invalidate(s)
  local seq, tick = s.seq, api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = kind }
  local ok, id = server.request(
    client,
    'textDocument/inlineCompletion',
    params,
    function(err, result)
      if M.states[bufnr] ~= s or s.seq ~= seq then
        return
      end
      s.request_id = nil
      local r, c = cursor(bufnr)
      if err or type(result) ~= 'table' or r ~= row or c ~= col or not in_insert_mode() then
        return
      end
      if api.nvim_buf_get_changedtick(bufnr) ~= tick then
        return
      end
      local line = api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
      show_items(s, bufnr, suggestions(result, line, col, client.offset_encoding, row), row, col)
    end,
    bufnr
  )
  if ok then
    s.request_id = id
  end
  return true
end

--- TextChangedI / CursorMovedI: keep the ghost if the user typed along it, else ask again.
local function on_change(bufnr)
  local s = M.states[bufnr]
  if not s then
    return
  end
  if config.options.hide_during_completion and vim.fn.pumvisible() == 1 then
    invalidate(s)
    hide(bufnr)
    return
  end
  if render(s, bufnr) then
    return
  end
  invalidate(s)
  clear_items(s, bufnr)
  if vim.b[bufnr].sc2_lsp_disable or vim.g.sc2_lsp_disable then
    return
  end
  s.timer:start(
    config.options.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if M.states[bufnr] == s then
        request(bufnr, AUTOMATIC)
      end
    end)
  )
end

function M.attach(client, bufnr)
  if M.states[bufnr] then
    M.detach(client, bufnr)
  end
  local s = {
    client_id = client.id,
    timer = assert(vim.uv.new_timer()),
    seq = 0,
    items = {},
    index = 1,
    hint = false,
  }
  M.states[bufnr] = s
  local group = api.nvim_create_augroup('sc2_lsp.ghost.' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  api.nvim_create_autocmd('CompleteDone', {
    group = group,
    buffer = bufnr,
    callback = function()
      vim.schedule(function()
        if in_insert_mode() then
          on_change(bufnr)
        end
      end)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      invalidate(s)
      clear_items(s, bufnr)
    end,
  })
  -- Attached while the user types: ask now, not only from the next keystroke on.
  M.refresh(bufnr)
end

--- Ask for the cursor's suggestion (debounced) when the user is typing in `bufnr` and nothing
--- is shown: after attaching, or once the model is ready.
function M.refresh(bufnr)
  if M.states[bufnr] and cursor(bufnr) and in_insert_mode() and not M.visible(bufnr) then
    on_change(bufnr)
  end
end

function M.detach(_, bufnr)
  local s = M.states[bufnr]
  if not s then
    return
  end
  invalidate(s)
  s.timer:close()
  M.states[bufnr] = nil
  pcall(api.nvim_del_augroup_by_name, 'sc2_lsp.ghost.' .. bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
    api.nvim_buf_clear_namespace(bufnr, M.anchor_ns, 0, -1)
  end
end

local function current(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  return M.states[bufnr], bufnr
end

--- The ghost text currently drawn in `bufnr` (first line), or nil.
---@param bufnr integer?
---@return string?
function M.visible_text(bufnr)
  local _, buf = current(bufnr)
  local mark = api.nvim_buf_get_extmarks(buf, M.ns, 0, -1, { details = true, limit = 1 })[1]
  return mark and mark[4].virt_text and mark[4].virt_text[1][1]
end

function M.visible(bufnr)
  return M.visible_text(bufnr) ~= nil
end

--- Insert the current suggestion, or the part of it `pick` selects (accept word/line).
---@param bufnr integer?
---@param pick fun(rest: string): string
---@return boolean accepted
local function accept(bufnr, pick)
  local s, buf = current(bufnr)
  if not s or not M.visible(buf) then
    return false
  end
  local rest, item = remaining(s, buf)
  if not rest or not item then
    return false
  end
  local part = item.snippet and rest or pick(rest)
  local full = part == rest
  local row, col = cursor(buf)
  local tick = api.nvim_buf_get_changedtick(buf)
  invalidate(s)
  if full then
    clear_items(s, buf)
  end

  local function apply()
    local r, c = cursor(buf)
    if r ~= row or c ~= col or api.nvim_buf_get_changedtick(buf) ~= tick then
      return
    end
    local line = api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
    local replace_end = full and math.min(col + item.suffix_len, #line) or col
    if item.snippet then
      api.nvim_buf_set_text(buf, row, col, row, replace_end, { '' })
      vim.snippet.expand(part)
    else
      local lines = vim.split(part, '\n', { plain = true })
      api.nvim_buf_set_text(buf, row, col, row, replace_end, lines)
      api.nvim_win_set_cursor(0, text.cursor_after(row, col, part))
    end
    local client = vim.lsp.get_client_by_id(s.client_id)
    if client then
      server.report_accept(client, item.command, part, full, buf)
    end
    if not full then
      render(s, buf)
    end
  end

  -- Called from an expr mapping (blink.cmp's keymaps are), the buffer is under textlock
  -- (E565) until the mapping returns: then edit right after it instead.
  local ok, err = pcall(apply)
  if not ok then
    if not tostring(err):find('E565') then
      error(err, 0)
    end
    vim.schedule(apply)
  end
  return true
end

function M.accept(bufnr)
  return accept(bufnr, function(rest)
    return rest
  end)
end

function M.accept_word(bufnr)
  return accept(bufnr, text.next_word)
end

function M.accept_line(bufnr)
  return accept(bufnr, text.next_line)
end

function M.dismiss(bufnr)
  local s, buf = current(bufnr)
  if not s or not M.visible(buf) then
    return false
  end
  invalidate(s)
  clear_items(s, buf)
  return true
end

--- Show the next (delta 1) or previous (-1) item; with none shown, ask the server (Invoked).
local function cycle(bufnr, delta)
  local s, buf = current(bufnr)
  if not s then
    return false
  end
  if #s.items == 0 or not M.visible(buf) then
    return request(buf, INVOKED)
  end
  s.index = (s.index - 1 + delta) % #s.items + 1
  s.hint = true
  render(s, buf)
  return true
end

function M.next(bufnr)
  return cycle(bufnr, 1)
end

function M.prev(bufnr)
  return cycle(bufnr, -1)
end

--- Ask for a suggestion now (triggerKind Invoked).
function M.suggest(bufnr)
  local _, buf = current(bufnr)
  return request(buf, INVOKED)
end

return M
