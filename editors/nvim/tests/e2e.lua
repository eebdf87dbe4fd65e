-- End to end with the real server: setup() starts `sc2-lsp --stdio` on a test GGUF whose every
-- suggestion is "x" repeated, waits for the model, types in Insert mode, checks the ghost-text
-- extmark, accepts with <Tab>, then :Sc2Status, :checkhealth and a settings push.
-- Environment: SC2_LSP_CMD (JSON list), SC2_TEST_MODEL (path), SC2_GHOST ('plugin'|'builtin').
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local H = dofile(here .. '/harness.lua')

local api = vim.api

H.run(function()
  local cmd = vim.json.decode((assert(os.getenv('SC2_LSP_CMD'), 'set SC2_LSP_CMD')))
  local model = assert(os.getenv('SC2_TEST_MODEL'), 'set SC2_TEST_MODEL')
  local ghost = os.getenv('SC2_GHOST') or 'auto'
  H.out(('nvim %s, ghost=%s, server: %s'):format(vim.version(), ghost, table.concat(cmd, ' ')))

  local sc2 = require('sc2_lsp')
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

  local dir = H.tempdir()
  vim.cmd.edit(dir .. '/main.py')
  api.nvim_buf_set_lines(0, 0, -1, false, { 'x = 1' })
  local buf = api.nvim_get_current_buf()
  local ready = H.await(function()
    local state = sc2.statusline()
    return state == 'sc2: ready' or state == 'sc2: failed'
  end, 30000) and sc2.statusline() == 'sc2: ready'
  H.check(
    ('server started, model ready via sc2/status (%d ms)'):format(H.ms()),
    ready,
    sc2.statusline()
  )
  if not ready then
    return
  end

  local ns = ghost == 'builtin' and require('sc2_lsp.builtin').ns() or require('sc2_lsp.ghost').ns
  local function mark()
    ns = ns or require('sc2_lsp.builtin').ns()
    local m = ns and api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1]
    return m and m[4]
  end

  local t = vim.uv.now()
  H.type('Goy = ', function()
    return sc2.visible_text(buf) == 'xxxxxx'
  end, 10000)
  local details = mark() or {}
  H.eq(
    ('ghost-text extmark after typing (%d ms)'):format(vim.uv.now() - t),
    'xxxxxx',
    vim.tbl_get(details, 'virt_text', 1, 1)
  )
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
  H.eq('leaving Insert mode clears the ghost text', nil, mark())
  H.eq('buffer', { 'x = 1', 'y = xxxxxx' }, api.nvim_buf_get_lines(buf, 0, -1, false))

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
  H.type('oz = ', function()
    return sc2.visible_text(buf) == 'xxx'
  end, 10000)
  H.eq('pushed maxTokensLine=3 shortens the suggestion', 'xxx', sc2.visible_text(buf))
  H.type('<Esc>', function()
    return H.mode() == 'n'
  end)
end)
