-- Pure text logic for suggestions: turning an LSP InlineCompletionItem into "text to insert
-- at the cursor", and splitting that text for accept-word / accept-line. No editor state here,
-- so everything in this module is unit-tested headless without a server.
local M = {}

-- Bytes >= 0x80 count as word characters so identifiers with non-ASCII letters stay whole.
local WORD = '[%w_\128-\255]'
local PUNCT = '[^%w_\128-\255%s]'

--- The plain text of an item's insertText (string or lsp.StringValue snippet).
---@param insert_text string|{kind: string, value: string}
---@return string text, boolean is_snippet
function M.insert_text(insert_text)
  if type(insert_text) == 'table' then
    return insert_text.value or '', insert_text.kind == 'snippet'
  end
  return insert_text or '', false
end

--- Byte column in `line` of an LSP character offset in `encoding`.
---@param line string
---@param character integer
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local units, byte = 0, 0
  while byte < #line and units < character do
    local b = line:byte(byte + 1)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    units = units + ((encoding == 'utf-16' and len == 4) and 2 or 1)
    byte = byte + len
  end
  return math.min(byte, #line)
end

--- Normalize one item against the cursor line.
---
--- The item replaces `range` (default: empty at the cursor). For ghost text we need what goes
--- *after* the cursor, so the part of the range before the cursor must already be typed (it is
--- a prefix of the insert text) and the part after the cursor is a suffix the item overwrites.
--- Items that span rows or disagree with the typed text cannot be shown as ghost text.
---@param item table lsp.InlineCompletionItem
---@param line string text of the cursor row
---@param col integer cursor byte column (0-based)
---@param encoding 'utf-8'|'utf-16'|'utf-32'
---@param row integer cursor row (0-based), to check the range is on it
---@return {text: string, suffix_len: integer, snippet: boolean, command: table?}?
function M.normalize(item, line, col, encoding, row)
  local text, snippet = M.insert_text(item.insertText)
  local start_col, end_col = col, col
  local range = item.range
  if range then
    if range.start.line ~= row or range['end'].line ~= row then
      return nil
    end
    start_col = M.byte_col(line, range.start.character, encoding)
    end_col = M.byte_col(line, range['end'].character, encoding)
    if start_col > col or end_col < col then
      return nil
    end
  end
  local typed = line:sub(start_col + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  text = text:sub(#typed + 1)
  if text == '' then
    return nil
  end
  return { text = text, suffix_len = end_col - col, snippet = snippet, command = item.command }
end

--- The next "word" of a suggestion: optional blanks then a run of word characters or of
--- punctuation; at a line break, the break plus the next line's indentation.
---@param text string
---@return string
function M.next_word(text)
  if text:sub(1, 1) == '\n' then
    return text:match('^\n[ \t]*')
  end
  return text:match('^[ \t]*' .. WORD .. '+')
    or text:match('^[ \t]*' .. PUNCT .. '+')
    or text:match('^[ \t]+')
    or text:sub(1, 1)
end

--- The rest of the current line of a suggestion; at a line break, the break plus the next line.
---@param text string
---@return string
function M.next_line(text)
  if text:sub(1, 1) == '\n' then
    return '\n' .. text:sub(2):match('^[^\n]*')
  end
  return text:match('^[^\n]*')
end

--- Lines for display: first line goes inline at the cursor, the rest become virtual lines.
--- When the suggestion overwrites text after the cursor and ends with that same text (a closing
--- bracket, typically), the overwritten tail is not drawn twice.
---@param text string
---@param suffix string the text after the cursor that accepting would overwrite
---@return string[]
function M.display_lines(text, suffix)
  local lines = vim.split(text, '\n', { plain = true })
  if #lines == 1 and suffix ~= '' and vim.endswith(lines[1], suffix) then
    lines[1] = lines[1]:sub(1, #lines[1] - #suffix)
  end
  return lines
end

--- Where the cursor lands after inserting `text` at (row, col): {row (1-based), col (bytes)}.
---@param row integer 0-based
---@param col integer
---@param text string
---@return integer[]
function M.cursor_after(row, col, text)
  local lines = vim.split(text, '\n', { plain = true })
  local last = lines[#lines]
  return { row + #lines, (#lines == 1 and col or 0) + #last }
end

return M
