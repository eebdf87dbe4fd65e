-- End to end with the real server, typed as a user types: setup() starts `sc2-lsp --stdio`;
-- the user is already typing before it attaches and its model is loaded; ghost text appears
-- without another keystroke; <Tab> accepts; typing the start of a suggestion and <Tab> at once
-- gives typed text + the rest; mid-line ghost text leaves the rest of the line visible; then
-- :Sc2Status, :checkhealth, a settings push, and on a model whose suggestions are blocks of
-- lines: cycling through alternatives, accept word, accept line, <Tab> for the rest.
-- The script prints what the server's statistics must say (EXPECT_STATS), checked by pytest.
-- Environment: SC2_LSP_CMD (JSON list), SC2_TEST_MODEL (every suggestion "x" repeated),
-- SC2_TEST_LINES_MODEL (every suggestion "x\nx\n..."), SC2_GHOST ('plugin'|'builtin').
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local H = dofile(here .. '/harness.lua')

local api = vim.api

local sc2, buf
local accepted, partly, chars = 0, 0, 0

local function shows(want)
  return function()
    return sc2.visible_text(buf) == want
  end
end

local function ghost_mark()
  local ns = sc2.engine_name == 'builtin' and require('sc2_lsp.builtin').ns()
    or require('sc2_lsp.ghost').ns
  local m = ns and api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1]
  return m and m[4]
end

--- The screen row showing buffer line `row` (0-based), as drawn.
local function screen_line(row)
  vim.cmd('redraw')
  local screen_row = vim.fn.screenpos(0, row + 1, 1).row
  local cells = {}
  for column = 1, vim.o.columns do
    cells[#cells + 1] = vim.fn.screenstring(screen_row, column)
  end
  return (table.concat(cells):gsub('%s+$', ''))
end

local function cursor_row()
  return api.nvim_win_get_cursor(0)[1] - 1
end

local function normal_mode()
  H.type('<Esc>', function()
    return H.mode() == 'n'
  end)
end

local function first_request_after_attaching(ghost)
  vim.cmd.edit(H.tempdir() .. '/main.py')
  api.nvim_buf_set_lines(0, 0, -1, false, { 'x = 1' })
  buf = api.nvim_get_current_buf()
  -- The user starts typing at once: the server is not attached yet, its model not loaded.
  local t = vim.uv.now()
  H.type('Goy = ')
  H.check('typing began before the server attached', #vim.lsp.get_clients({ bufnr = buf }) == 0)
  local appeared = H.await(shows('xxxxxx'), 30000)
  H.check(
    ('ghost text appeared with no further keystroke (%d ms)'):format(vim.uv.now() - t),
    appeared,
    { statusline = sc2.statusline(), ghost = sc2.visible_text(buf) }
  )
  H.eq('model ready', 'sc2: ready', sc2.statusline())
  local details = ghost_mark() or {}
  H.out('extmark: ' .. vim.inspect(details, { newline = ' ', indent = '' }))
  if ghost == 'plugin' then
    H.eq('inline virtual text', 'inline', details.virt_text_pos)
  end
  -- <Tab><Esc> in one go, as a fast typist or a macro would: the accept must land first.
  H.type('<Tab><Esc>', function()
    return H.mode() == 'n'
  end)
  H.sleep(50)
  H.eq('<Tab> accepted the ghost text', 'y = xxxxxx', H.line(buf, 1))
  accepted, chars = accepted + 1, chars + 6
  H.eq('leaving Insert mode clears the ghost text', nil, ghost_mark())
end

local function typed_then_tab()
  H.type('oz = ', shows('xxxxxx'))
  local row = cursor_row()
  -- The start of the suggestion and <Tab> at once, before any new answer.
  H.type('x<Tab>', function()
    return H.line(buf, row) ~= 'z = x'
  end)
  H.sleep(50)
  H.eq('typed "x" then <Tab>: typed text + the rest, once', 'z = xxxxxx', H.line(buf, row))
  accepted, chars = accepted + 1, chars + 5
  normal_mode()
end

local function mid_line()
  local row = cursor_row() + 1
  api.nvim_buf_set_lines(buf, row, row, false, { 'total = f(2, 3)' })
  api.nvim_win_set_cursor(0, { row + 1, 9 }) -- on "("
  H.type('a1, ', function()
    local ghost = sc2.visible_text(buf)
    return ghost ~= nil and ghost ~= ''
  end, 10000)
  local ghost = sc2.visible_text(buf) or ''
  H.check('mid-line ghost text shown', ghost ~= '', ghost)
  H.eq('mid-line ghost text is inline', 'inline', (ghost_mark() or {}).virt_text_pos)
  H.eq(
    'the rest of the line stays visible after it',
    'total = f(1, ' .. ghost .. '2, 3)',
    screen_line(row)
  )
  H.type('<Tab>', function()
    return H.line(buf, row) ~= 'total = f(1, 2, 3)'
  end)
  H.eq('<Tab> mid-line', 'total = f(1, ' .. ghost .. '2, 3)', H.line(buf, row))
  accepted, chars = accepted + 1, chars + vim.fn.strchars(ghost)
  normal_mode()
end

local function status_and_health()
  vim.cmd('messages clear')
  vim.cmd('Sc2Status')
  local status_ok = H.await(function()
    return api.nvim_exec2('messages', { output = true }).output:find('model ready', 1, true)
  end, 5000)
  H.check(
    ':Sc2Status reports the model ready',
    status_ok,
    api.nvim_exec2('messages', { output = true }).output
  )
  vim.cmd('checkhealth sc2_lsp')
  local report = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  H.check('checkhealth: model ready', report:find('OK model ready', 1, true), report)
  H.check('checkhealth: server version', report:find('OK version: sc2%-lsp'), report)
  H.check('checkhealth: ghost-text path', report:find('OK ghost text: ', 1, true), report)
  H.check('checkhealth: no errors', not report:find('ERROR', 1, true), report)
  vim.cmd('tabclose')
  -- Settings pushed at run time reach the server (workspace/didChangeConfiguration).
  sc2.set_settings({ completion = { maxTokensLine = 3 } })
  H.type('Goq = ', shows('xxx'), 10000)
  H.eq('pushed maxTokensLine=3 shortens the suggestion', 'xxx', sc2.visible_text(buf))
  normal_mode()
end

--- The ghost text's continuation lines (virtual lines under the cursor's).
local function more_lines()
  local details = ghost_mark() or {}
  return #(details.virt_lines or {})
end

local function alternatives_and_partial_accepts(lines_model)
  sc2.set_settings({ model = { path = lines_model } })
  H.await(function()
    local status = require('sc2_lsp.status').by_client[require('sc2_lsp.server').client(0).id]
    local model = status and status.model or {}
    return model.state == 'ready' and model.path == lines_model
  end, 30000)
  H.type('Go<CR><CR><M-\\>', function()
    return sc2.visible_text(buf) == 'x' and more_lines() > 0
  end, 10000)
  local row = cursor_row()
  local lines = more_lines()
  H.check('a block of lines: first line inline, more below', lines > 0, lines)
  H.type('<M-]>', function()
    return more_lines() == 0
  end)
  H.eq('next: the second alternative (its first line)', 0, more_lines())
  H.eq('with an (i/n) hint', ' (2/2)', vim.tbl_get(ghost_mark() or {}, 'virt_text', 2, 1))
  H.type('<M-[>', function()
    return more_lines() == lines
  end)
  H.eq('previous: the first again', lines, more_lines())
  H.type('<M-Right>', function()
    return H.line(buf, row) == 'x' and more_lines() > 0
  end, 5000)
  H.eq('accept word: "x", the rest still shown', 'x', H.line(buf, row))
  H.type('<M-C-Right>', function()
    return H.line(buf, row + 1) == 'x'
  end, 5000)
  H.eq('accept line: the next line', { 'x', 'x' }, api.nvim_buf_get_lines(buf, row, row + 2, false))
  H.await(function()
    return more_lines() > 0
  end, 5000)
  local before = api.nvim_buf_line_count(buf)
  H.type('<Tab>', function()
    return api.nvim_buf_line_count(buf) > before
  end)
  local added = api.nvim_buf_get_lines(buf, row, -1, false)
  H.check('<Tab>: the rest of the block', #added > 2 and added[#added] == 'x', added)
  -- What went in: "x", "\nx", then the rest; reported as one suggestion accepted.
  accepted, chars = accepted + 1, chars + vim.fn.strchars(table.concat(added, '\n'))
  normal_mode()
  -- Only a word of the next one, then the user moves on: partly accepted.
  H.type('o<CR><M-\\>', function()
    return sc2.visible_text(buf) == 'x' and more_lines() > 0
  end, 10000)
  H.type('<M-Right>', function()
    return H.line(buf, cursor_row()) == 'x'
  end)
  partly, chars = partly + 1, chars + 1
  normal_mode()
end

H.run(function()
  local cmd = vim.json.decode((assert(os.getenv('SC2_LSP_CMD'), 'set SC2_LSP_CMD')))
  local model = assert(os.getenv('SC2_TEST_MODEL'), 'set SC2_TEST_MODEL')
  local lines_model = assert(os.getenv('SC2_TEST_LINES_MODEL'), 'set SC2_TEST_LINES_MODEL')
  local ghost = os.getenv('SC2_GHOST') or 'auto'
  H.out(('nvim %s, ghost=%s, server: %s'):format(vim.version(), ghost, table.concat(cmd, ' ')))
  sc2 = require('sc2_lsp')
  sc2.setup({
    cmd = cmd,
    ghost = ghost,
    filetypes = { 'python' },
    debounce_ms = 0,
    settings = {
      model = { path = model },
      completion = { maxTokensLine = 6, debounceMs = 0 },
    },
  })
  H.eq('ghost-text engine', ghost, sc2.engine_name)
  first_request_after_attaching(ghost)
  if H.failures > 0 then
    return
  end
  typed_then_tab()
  mid_line()
  status_and_health()
  alternatives_and_partial_accepts(lines_model)
  H.out(('EXPECT_STATS accepted=%d partly=%d chars=%d'):format(accepted, partly, chars))
end)
