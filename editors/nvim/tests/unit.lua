-- Plugin logic without the real server: pure text helpers, then the plugin's ghost-text
-- engine, keymaps, status and registration against tests/fake_server.lua, then (on Neovim
-- with vim.lsp.inline_completion) the built-in adapter. Runs on every supported Neovim.
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local H = dofile(here .. '/harness.lua')
local Fake = dofile(here .. '/fake_server.lua')

local api = vim.api

local function text_tests()
  local text = require('sc2_lsp.text')
  local function range(sl, sc, el, ec)
    return { start = { line = sl, character = sc }, ['end'] = { line = el, character = ec } }
  end

  H.eq('byte_col utf-16 counts é as 1 unit', 4, text.byte_col('é = 1', 3, 'utf-16'))
  H.eq('byte_col utf-16 counts an emoji as 2 units', 5, text.byte_col('😀x', 3, 'utf-16'))
  H.eq('byte_col utf-32', 5, text.byte_col('😀x', 2, 'utf-32'))
  H.eq('byte_col utf-8 is bytes, clamped', 3, text.byte_col('abc', 9, 'utf-8'))

  H.eq(
    'normalize: no range inserts at the cursor',
    { text = 'foo', suffix_len = 0, snippet = false },
    text.normalize({ insertText = 'foo' }, 'x = ', 4, 'utf-16', 0)
  )
  H.eq(
    'normalize: empty range at the cursor',
    { text = 'foo', suffix_len = 0, snippet = false },
    text.normalize({ insertText = 'foo', range = range(3, 4, 3, 4) }, 'x = ', 4, 'utf-16', 3)
  )
  H.eq(
    'normalize: range starting before the cursor strips the typed prefix',
    'nt(x)',
    text.normalize({ insertText = 'print(x)', range = range(0, 0, 0, 3) }, 'pri', 3, 'utf-16', 0).text
  )
  H.eq(
    'normalize: typed text disagreeing with the item drops it',
    nil,
    text.normalize({ insertText = 'print(x)', range = range(0, 0, 0, 3) }, 'pra', 3, 'utf-16', 0)
  )
  H.eq(
    'normalize: range over text after the cursor becomes suffix_len',
    { text = 'a, b)', suffix_len = 1, snippet = false },
    text.normalize({ insertText = 'a, b)', range = range(0, 5, 0, 6) }, 'call()', 5, 'utf-16', 0)
  )
  H.eq(
    'normalize: utf-16 range after a multibyte character',
    'ux',
    text.normalize({ insertText = 'aux', range = range(0, 1, 0, 2) }, 'éa', 3, 'utf-16', 0).text
  )
  H.eq(
    'normalize: range on another row is not ghost text',
    nil,
    text.normalize({ insertText = 'x', range = range(0, 0, 1, 0) }, 'ab', 2, 'utf-16', 0)
  )
  H.eq(
    'normalize: range ending before the cursor is rejected',
    nil,
    text.normalize({ insertText = 'x', range = range(0, 0, 0, 1) }, 'ab', 2, 'utf-16', 0)
  )
  H.eq(
    'normalize: snippet StringValue',
    { text = 'f(${1:x})', suffix_len = 0, snippet = true },
    text.normalize({ insertText = { kind = 'snippet', value = 'f(${1:x})' } }, '', 0, 'utf-16', 0)
  )
  H.eq(
    'normalize: item equal to the typed text is nothing to show',
    nil,
    text.normalize({ insertText = 'ab', range = range(0, 0, 0, 2) }, 'ab', 2, 'utf-16', 0)
  )

  local words = {
    { 'foo(bar)', 'foo' },
    { '(bar)', '(' },
    { '  bar baz', '  bar' },
    { ' = 1', ' =' },
    { 'héllo wörld', 'héllo' },
    { '\n    return x', '\n    ' },
    { '   \nx', '   ' },
    { ')', ')' },
  }
  for _, case in ipairs(words) do
    H.eq(('next_word("%s")'):format(case[1]:gsub('\n', '\\n')), case[2], text.next_word(case[1]))
  end
  local lines = {
    { 'abc\ndef', 'abc' },
    { '\ndef\nghi', '\ndef' },
    { 'only', 'only' },
    { '\n', '\n' },
  }
  for _, case in ipairs(lines) do
    H.eq(('next_line("%s")'):format(case[1]:gsub('\n', '\\n')), case[2], text.next_line(case[1]))
  end

  H.eq('display_lines splits lines', { 'a', '  b' }, text.display_lines('a\n  b', ''))
  H.eq('display_lines hides an overwritten suffix', { 'a, b' }, text.display_lines('a, b)', ')'))
  H.eq('display_lines keeps a different suffix', { 'a, b' }, text.display_lines('a, b', ']'))
  H.eq('cursor_after one line', { 1, 7 }, text.cursor_after(0, 4, 'foo'))
  H.eq('cursor_after two lines', { 3, 4 }, text.cursor_after(1, 9, 'x\nabcd'))
end

local function config_tests()
  local config = require('sc2_lsp.config')
  local opts = config.set({ cmd = { 'x' }, keymaps = { accept = false } })
  H.eq('config: lists replace defaults', { 'x' }, opts.cmd)
  H.eq(
    'config: keymaps merge',
    { false, '<M-Right>' },
    { opts.keymaps.accept, opts.keymaps.accept_word }
  )
  H.eq(
    'config: filetypes=false attaches everywhere',
    nil,
    config.set({ filetypes = false }).filetypes
  )
  H.check('config: bad ghost value raises', not pcall(config.set, { ghost = 'nope' }))
  H.check('config: bad cmd type raises', not pcall(config.set, { cmd = 'sc2-lsp' }))
  local server = require('sc2_lsp.server')
  local cfg = server.lsp_config(config.set({ settings = {} }), {})
  H.eq(
    'lsp_config: empty settings go out as a JSON object',
    '{}',
    vim.json.encode(cfg.init_options)
  )
  cfg = server.lsp_config(config.set({ settings = { completion = { debounceMs = 5 } } }), {})
  H.eq('lsp_config: settings as init_options', 5, cfg.init_options.completion.debounceMs)
  H.eq('lsp_config: settings under sc2', 5, cfg.settings.sc2.completion.debounceMs)
  local client = { server_capabilities = { completionProvider = {} } }
  cfg.on_init(client, {})
  H.eq(
    'lsp_config: popup completion off by default',
    nil,
    client.server_capabilities.completionProvider
  )
end

local function stop_all()
  vim.cmd('stopinsert')
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop(true)
  end
  H.await(function()
    return #vim.lsp.get_clients() == 0
  end, 3000)
  vim.cmd('silent! %bwipeout!')
end

local function open(dir, name)
  vim.cmd.edit(dir .. '/' .. name)
  local bufnr = api.nvim_get_current_buf()
  local attached = H.await(function()
    local c = vim.lsp.get_clients({ bufnr = bufnr, name = 'sc2_lsp' })[1]
    return c and c.initialized
  end, 5000)
  H.check('client attached to ' .. name, attached)
  return bufnr
end

local function plugin_engine_tests(dir)
  local sc2 = require('sc2_lsp')
  local ghost = require('sc2_lsp.ghost')
  local fake = Fake.new()
  -- A mapping that exists before setup: <Tab> must fall back to it when nothing is shown.
  vim.cmd('inoremap <Tab> TABMAP')
  sc2.setup({ cmd = fake.cmd, ghost = 'plugin', debounce_ms = 10, filetypes = { 'python' } })
  H.eq('engine: plugin', 'plugin', sc2.engine_name)
  local buf = open(dir, 'a.py')

  local function mark()
    local m = api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })[1]
    return m and m[4]
  end
  local function shows(want)
    return function()
      return sc2.visible_text(buf) == want
    end
  end

  -- Render: first line inline at the cursor, the rest as virtual lines.
  fake.respond = function()
    return Fake.items({ 'foo(bar)\n    return baz' })
  end
  H.type('ix = ', shows('foo(bar)'))
  H.eq('ghost text after typing', 'foo(bar)', sc2.visible_text(buf))
  local details = mark() or {}
  H.eq('virt_text_pos inline', 'inline', details.virt_text_pos)
  H.eq(
    'multi-line rest as virt_lines',
    '    return baz',
    vim.tbl_get(details, 'virt_lines', 1, 1, 1)
  )
  local last = fake.requests[#fake.requests]
  H.eq('request position', { line = 0, character = 4 }, last.params.position)
  H.eq('automatic triggerKind', 2, last.params.context.triggerKind)

  -- Typing along the suggestion keeps it (trimmed) without asking the server again.
  local asked = #fake.requests
  H.type('foo', shows('(bar)'))
  H.eq('typed along: rest shown', '(bar)', sc2.visible_text(buf))
  H.eq('typed along: no new request', asked, #fake.requests)

  -- Partial accepts.
  H.type('<M-Right>', shows('bar)'))
  H.eq('accept word inserts "("', 'x = foo(', H.line(buf, 0))
  H.type('<M-C-Right>', shows(''))
  H.eq('accept line inserts the rest of the line', 'x = foo(bar)', H.line(buf, 0))
  H.eq(
    'rest starts on the next line',
    '    return baz',
    vim.tbl_get(mark() or {}, 'virt_lines', 1, 1, 1)
  )
  H.type('<M-C-Right>', function()
    return H.line(buf, 1) == '    return baz'
  end)
  H.eq(
    'accept line across the break',
    { 'x = foo(bar)', '    return baz' },
    api.nvim_buf_get_lines(buf, 0, -1, false)
  )
  H.eq('cursor after accepted text', { 2, 14 }, api.nvim_win_get_cursor(0))

  -- The server hears of accepts: a word taken, then the rest with <Tab>.
  fake.respond = function(params)
    return Fake.sc2_items({ 'total(1)' }, params, 'a7', true)
  end
  H.type('<CR>t = ', shows('total(1)'))
  H.type('<M-Right>', shows('(1)'))
  H.type('<Tab>', function()
    return #fake.commands >= 2
  end)
  local position = fake.requests[#fake.requests].params.position
  H.eq('reported: a word, then the rest', {
    {
      command = 'sc2.partiallyAccepted',
      arguments = { { id = 'a7', index = 0, length = 5, position = position } },
    },
    {
      command = 'sc2.accepted',
      arguments = { { id = 'a7', index = 0, length = 3, position = position } },
    },
  }, fake.commands)

  -- Leaving Insert mode clears.
  H.type('<Esc>', function()
    return H.mode() == 'n'
  end)
  H.sleep(40)
  H.eq('InsertLeave clears ghost text', nil, mark())
  api.nvim_buf_set_lines(buf, 2, -1, false, {})
  fake.commands = {}

  -- Accept with <Tab>, replacing the range's text after the cursor.
  api.nvim_buf_set_lines(buf, -1, -1, false, { 'call()' })
  api.nvim_win_set_cursor(0, { 3, 5 })
  fake.respond = function(params)
    local row = params.position.line
    return {
      items = {
        {
          insertText = 'a, b)',
          range = { start = { line = row, character = 5 }, ['end'] = { line = row, character = 6 } },
        },
      },
    }
  end
  H.type('i<M-\\>', shows('a, b'))
  H.eq(
    'suggest key: invoked triggerKind',
    1,
    fake.requests[#fake.requests].params.context.triggerKind
  )
  H.eq('overwritten ")" is not drawn twice', 'a, b', sc2.visible_text(buf))
  H.type('<Tab>', function()
    return H.line(buf, 2) == 'call(a, b)'
  end)
  H.eq('<Tab> accepts and replaces the range', 'call(a, b)', H.line(buf, 2))
  H.eq('cursor after the replaced range', { 3, 10 }, api.nvim_win_get_cursor(0))

  -- Stale answers: a newer keystroke cancels the request in flight; its late answer is dropped.
  fake.respond = nil
  local before = #fake.requests
  H.type('<End><CR>a', function()
    return #fake.requests == before + 1
  end)
  H.type('b', function()
    return #fake.requests == before + 2
  end)
  local first, second = fake.requests[before + 1], fake.requests[before + 2]
  H.check('newer keystroke cancels the old request', fake.cancelled[first.id], fake.cancelled)
  fake.answer(before + 1, Fake.items({ 'STALE' }))
  H.sleep(50)
  H.eq('stale answer not shown', nil, sc2.visible_text(buf))
  fake.answer(before + 2, Fake.items({ 'GOOD' }))
  H.await(shows('GOOD'), 2000)
  H.eq('current answer shown', 'GOOD', sc2.visible_text(buf))
  H.check('current request not cancelled', not fake.cancelled[second.id])

  -- Several items: next/previous, with an (i/n) hint.
  fake.respond = function()
    return Fake.items({ 'one', 'two', 'one' })
  end
  H.type('<CR>q', shows('one'))
  H.type('<M-]>', shows('two'))
  H.eq('next shows the second item', 'two', sc2.visible_text(buf))
  H.eq('duplicates dropped, hint shows i/n', ' (2/2)', vim.tbl_get(mark() or {}, 'virt_text', 2, 1))
  H.type('<M-[>', shows('one'))
  H.eq('previous shows the first again', 'one', sc2.visible_text(buf))
  H.type('<M-]><M-]>', shows('one'))
  H.eq('next wraps around', 'one', sc2.visible_text(buf))

  -- Dismiss; then <Tab> with nothing shown falls back to the earlier mapping.
  H.type('<C-]>', function()
    return not sc2.is_visible(buf)
  end)
  H.eq('dismiss hides it', false, sc2.is_visible(buf))
  fake.respond = function()
    return { items = {} }
  end
  H.type('<Tab>', function()
    return vim.endswith(H.line(buf, 4), 'TABMAP')
  end)
  H.eq('<Tab> without ghost text falls back to the previous mapping', 'qTABMAP', H.line(buf, 4))

  -- An expr mapping (blink.cmp makes those) may call accept(): the edit waits for textlock.
  vim.keymap.set('i', '<C-g>a', function()
    sc2.accept()
    return ''
  end, { expr = true })
  fake.respond = function()
    return Fake.items({ 'EXPR' })
  end
  H.type('<CR>e', shows('EXPR'))
  local row = api.nvim_win_get_cursor(0)[1] - 1
  H.type('<C-g>a', function()
    return H.line(buf, row) == 'eEXPR'
  end)
  H.eq('accept() from an expr mapping', 'eEXPR', H.line(buf, row))

  -- Debounce: a burst of keys makes one request.
  require('sc2_lsp.config').options.debounce_ms = 80
  before = #fake.requests
  H.type('abcdef')
  H.sleep(300)
  H.eq('debounce: one request for a burst of keys', before + 1, #fake.requests)
  require('sc2_lsp.config').options.debounce_ms = 10

  -- Status pushed by the server.
  local events = 0
  api.nvim_create_autocmd('User', {
    pattern = 'Sc2Status',
    callback = function()
      events = events + 1
    end,
  })
  H.eq('statusline before any status', 'sc2: starting', sc2.statusline())
  fake.notify_client('sc2/status', { version = '9.9', model = { state = 'loading' } })
  H.await(function()
    return sc2.statusline() == 'sc2: loading'
  end, 1000)
  H.eq('statusline loading', 'sc2: loading', sc2.statusline())
  fake.notify_client('sc2/status', { version = '9.9', model = { state = 'restarting' } })
  H.await(function()
    return sc2.statusline() == 'sc2: restarting'
  end, 1000)
  H.eq('statusline restarting', 'sc2: restarting', sc2.statusline())
  fake.notify_client('sc2/status', { version = '9.9', model = { state = 'unloaded' } })
  H.await(function()
    return sc2.statusline() == 'sc2: idle'
  end, 1000)
  H.eq('statusline idle', 'sc2: idle', sc2.statusline())
  vim.api.nvim_exec_autocmds('FocusGained', {})
  H.await(function()
    return fake.notifications['sc2/wake'] ~= nil
  end, 1000)
  H.eq('focus wakes the server', 1, #(fake.notifications['sc2/wake'] or {}))
  fake.notify_client(
    'sc2/status',
    { version = '9.9', model = { state = 'ready', path = '/m.gguf' }, generating = true }
  )
  H.await(function()
    return sc2.statusline() == 'sc2: …'
  end, 1000)
  H.eq('statusline generating', 'sc2: …', sc2.statusline())
  fake.notify_client(
    'sc2/status',
    { version = '9.9', model = { state = 'ready', path = '/m.gguf' }, requests = 4 }
  )
  H.await(function()
    return sc2.statusline() == 'sc2: ready'
  end, 1000)
  H.eq('statusline ready', 'sc2: ready', sc2.statusline())
  H.eq('User Sc2Status fired per notification', 5, events)
  local here_uri = vim.uri_from_bufnr(0)
  fake.notify_client('sc2/status', {
    version = '9.9',
    model = { state = 'ready', path = '/m.gguf' },
    refusedDocuments = { [here_uri] = 'secret-like file (repository.secretPatterns)' },
  })
  H.await(function()
    return sc2.statusline() == 'sc2: off here'
  end, 1000)
  H.eq('statusline in a refused file', 'sc2: off here', sc2.statusline())
  local status = require('sc2_lsp.status')
  local lines = status.format(status.by_client[require('sc2_lsp.server').client(0).id])
  local why = 'no completion in %s: secret-like file (repository.secretPatterns)'
  H.check(
    'status lines say why a file gets no completion',
    vim.tbl_contains(lines, why:format(vim.uri_to_fname(here_uri))),
    vim.inspect(lines)
  )
  fake.notify_client(
    'sc2/status',
    { version = '9.9', model = { state = 'ready', path = '/m.gguf' }, refusedDocuments = {} }
  )
  H.await(function()
    return sc2.statusline() == 'sc2: ready'
  end, 1000)
  H.eq('statusline once the file is allowed again', 'sc2: ready', sc2.statusline())
  H.type('<Esc>', function()
    return H.mode() == 'n'
  end)
  vim.cmd('messages clear')
  vim.cmd('Sc2Status')
  local shown = H.await(function()
    return api.nvim_exec2('messages', { output = true }).output:find('model ready', 1, true)
  end, 2000)
  H.check(
    ':Sc2Status shows the (cached) status',
    shown,
    api.nvim_exec2('messages', { output = true }).output
  )
  stop_all()
end

local function builtin_tests(dir)
  local sc2 = require('sc2_lsp')
  if not require('sc2_lsp.builtin').available() then
    H.eq(
      'auto picks the plugin engine without vim.lsp.inline_completion',
      'plugin',
      sc2.pick_engine('auto')
    )
    return
  end
  H.eq('auto picks the built-in engine', 'builtin', sc2.pick_engine('auto'))
  local fake = Fake.new()
  fake.respond = function()
    return Fake.items({ 'alpha beta', 'gamma' })
  end
  sc2.setup({ cmd = fake.cmd, filetypes = { 'python' } })
  H.eq('engine: builtin', 'builtin', sc2.engine_name)
  local buf = open(dir, 'b.py')
  local function shows(want)
    return function()
      return sc2.visible_text(buf) == want
    end
  end
  H.type('iv = ', shows('alpha beta'))
  H.eq('built-in ghost text', 'alpha beta', sc2.visible_text(buf))
  H.type('<M-]>', shows('gamma'))
  H.eq('next through vim.lsp.inline_completion.select', 'gamma', sc2.visible_text(buf))
  H.type('<M-[>', shows('alpha beta'))
  H.type('<M-Right>', function()
    return H.line(buf, 0) == 'v = alpha'
  end)
  H.eq('accept word through get({on_accept})', 'v = alpha', H.line(buf, 0))
  H.await(function()
    return sc2.is_visible(buf)
  end, 3000)
  H.type('<C-g>a', function()
    return H.line(buf, 0) == 'v = alphaalpha beta'
  end)
  H.eq('accept() from an expr mapping (built-in)', 'v = alphaalpha beta', H.line(buf, 0))
  H.type('<C-u>v = alpha', function()
    return H.line(buf, 0) == 'v = alpha'
  end)
  H.await(function()
    return sc2.is_visible(buf)
  end, 3000)
  H.type('<C-]>', function()
    return not sc2.is_visible(buf)
  end)
  H.eq('dismiss hides built-in ghost text', false, sc2.is_visible(buf))
  H.type('<Tab>', function()
    return H.line(buf, 0) == 'v = alphaTABMAP'
  end)
  H.eq('<Tab> with nothing shown falls back', 'v = alphaTABMAP', H.line(buf, 0))
  H.await(function()
    return sc2.is_visible(buf)
  end, 3000)
  H.type('<Tab>', function()
    return H.line(buf, 0) == 'v = alphaTABMAPalpha beta'
  end)
  H.eq('<Tab> accepts built-in ghost text', 'v = alphaTABMAPalpha beta', H.line(buf, 0))

  -- Items as sc2-lsp sends them. At a line end (a range at the cursor), typing the start of
  -- the suggestion and pressing <Tab> before the next answer inserts only the rest: the item
  -- still shown is the old one, and its range is where the text began.
  fake.respond = function(params)
    return Fake.sc2_items({ 'alpha beta', 'gamma' }, params, 'a3', true)
  end
  H.type('<CR>w = ', shows('alpha beta'))
  local row = api.nvim_win_get_cursor(0)[1] - 1
  H.type('al<Tab>', function()
    return H.line(buf, row) == 'w = alpha beta'
  end)
  H.eq('typed, then <Tab> at once: typed text + the rest', 'w = alpha beta', H.line(buf, row))
  local reported = fake.commands[#fake.commands]
  H.eq('the accept reported with the characters inserted', {
    command = 'sc2.accepted',
    arguments = { { id = 'a3', index = 0, length = 8, position = { line = row, character = 4 } } },
  }, reported)
  -- Typed something else: the old item does not fit any more, <Tab> is <Tab>.
  H.type('<CR>w = ', shows('alpha beta'))
  row = api.nvim_win_get_cursor(0)[1] - 1
  H.type('zz<Tab>', function()
    return H.line(buf, row) == 'w = zzTABMAP'
  end)
  H.eq('a stale item that does not fit is not inserted', 'w = zzTABMAP', H.line(buf, row))
  -- Mid-line: no range, so the built-in draws inline and the rest of the line stays visible.
  fake.respond = function(params)
    return Fake.sc2_items({ 'one, ' }, params, 'a4', false)
  end
  H.type('<Esc>', function()
    return H.mode() == 'n'
  end)
  api.nvim_buf_set_lines(buf, row + 1, row + 1, false, { 'f(2)' })
  api.nvim_win_set_cursor(0, { row + 2, 1 })
  H.type('a', shows('one, '))
  local ns = require('sc2_lsp.builtin').ns()
  local mark = api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1]
  H.eq('mid-line ghost text is inline', 'inline', mark and mark[4].virt_text_pos)
  H.type('on<Tab>', function()
    return H.line(buf, row + 1) == 'f(one, 2)'
  end)
  H.eq('mid-line: typed, then <Tab>: the rest at the cursor', 'f(one, 2)', H.line(buf, row + 1))
  stop_all()
end

local function legacy_registration_tests(dir)
  local sc2 = require('sc2_lsp')
  if vim.lsp.enable then
    vim.lsp.enable('sc2_lsp', false)
  end
  local fake = Fake.new()
  fake.respond = function()
    return Fake.items({ 'legacy' })
  end
  sc2.setup({
    cmd = fake.cmd,
    ghost = 'plugin',
    debounce_ms = 0,
    filetypes = { 'python' },
    _legacy_register = true,
  })
  local buf = open(dir, 'c.py')
  H.type('ix', function()
    return sc2.visible_text(buf) == 'legacy'
  end)
  H.eq('FileType + vim.lsp.start registration (0.10 path) works', 'legacy', sc2.visible_text(buf))
  stop_all()
end

H.run(function()
  H.out(
    ('nvim %s, vim.lsp.inline_completion: %s'):format(
      vim.version(),
      vim.lsp.inline_completion ~= nil
    )
  )
  vim.env.XDG_STATE_HOME = vim.env.XDG_STATE_HOME or H.tempdir()
  text_tests()
  config_tests()
  local dir = H.tempdir()
  plugin_engine_tests(dir)
  builtin_tests(dir)
  legacy_registration_tests(dir)
end)
