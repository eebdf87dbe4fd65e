-- Insert-mode keymaps for the plugin's actions. A key does its action only when there is
-- something to act on; otherwise it behaves as it did before setup() (the mapping that was
-- there, or the plain key), so <Tab> keeps indenting and other plugins keep their keys.
local M = {}

local DESC = 'sc2_lsp: '

-- lhs -> the mapping that was there before ours ({} when none), kept across setup() calls so
-- calling setup() again neither loses nor falls back to our own mapping.
---@type table<string, table>
local previous = {}

local function feed(keys, remap)
  -- 'i': in front of typeahead, so the key acts before anything typed after it.
  vim.api.nvim_feedkeys(keys, remap and 'im' or 'in', false)
end

--- Replay the mapping `prev` (a maparg() dict) or the raw key.
local function fallback(lhs, prev)
  if not prev or vim.tbl_isempty(prev) then
    feed(vim.keycode(lhs), false)
    return
  end
  local remap = prev.noremap ~= 1
  if prev.callback then
    local keys = prev.callback()
    if prev.expr == 1 and type(keys) == 'string' then
      feed(prev.replace_keycodes == 1 and vim.keycode(keys) or keys, remap)
    end
  elseif prev.expr == 1 then
    feed(vim.api.nvim_eval(prev.rhs), remap)
  else
    feed(vim.keycode(prev.rhs), remap)
  end
end

--- Map each configured key to `actions[name]()`, falling back when it returns false.
---@param keymaps table<string, string|false>
---@param actions table<string, fun(): boolean>
function M.set(keymaps, actions)
  local wanted = {}
  for name, lhs in pairs(keymaps) do
    if lhs and actions[name] then
      wanted[lhs] = name
    end
  end
  for lhs, prev in pairs(previous) do
    if not wanted[lhs] then
      pcall(vim.keymap.del, 'i', lhs)
      if not vim.tbl_isempty(prev) then
        pcall(vim.fn.mapset, 'i', false, prev)
      end
      previous[lhs] = nil
    end
  end
  for lhs, name in pairs(wanted) do
    if not previous[lhs] then
      local prev = vim.fn.maparg(lhs, 'i', false, true)
      previous[lhs] = prev.buffer == 1 and {} or prev
    end
    local prev = previous[lhs]
    vim.keymap.set('i', lhs, function()
      if not actions[name]() then
        fallback(lhs, prev)
      end
    end, { desc = DESC .. name, silent = true })
  end
end

return M
