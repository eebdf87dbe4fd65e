-- Harness for headless test scripts, run as
--   nvim --headless --clean -c 'luafile tests/<name>.lua' </dev/null
-- (not `nvim -l`: there, Insert-mode input can end nvim with exit 0 before the script ran).
-- Prints PASS/FAIL lines and a final "N passed, M failed"; the exit code is 0 only when all
-- passed (1 on failures or a Lua error, 3 on the watchdog). Steps that need the main loop
-- (typed keys, LSP answers) run in H.run's coroutine and wait with H.await.
local H = {}

H.root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
vim.opt.runtimepath:prepend(H.root)
-- ftplugin/python.vim probes python3 for pynvim, which takes seconds.
for _, provider in ipairs({ 'python3', 'node', 'perl', 'ruby' }) do
  vim.g['loaded_' .. provider .. '_provider'] = 0
end

H.passes, H.failures = 0, 0
local t0 = vim.uv.hrtime()

function H.ms()
  return math.floor((vim.uv.hrtime() - t0) / 1e6)
end

local function out(line)
  io.stdout:write(line .. '\n')
  io.stdout:flush()
end
H.out = out

--- Record one check. Values are shown with vim.inspect on failure.
function H.check(name, ok, detail)
  if ok then
    H.passes = H.passes + 1
    out(('PASS %s (%d ms)'):format(name, H.ms()))
  else
    H.failures = H.failures + 1
    out('FAIL ' .. name .. (detail ~= nil and (' -- ' .. vim.inspect(detail)) or ''))
  end
  return ok
end

function H.eq(name, want, got)
  return H.check(name, vim.deep_equal(want, got), { want = want, got = got })
end

local finished = false

function H.finish()
  if finished then
    return
  end
  finished = true
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  vim.wait(3000, function()
    return #vim.lsp.get_clients() == 0
  end, 20)
  out(('%d passed, %d failed (%d ms)'):format(H.passes, H.failures, H.ms()))
  vim.cmd(((H.failures == 0 and H.passes > 0) and 0 or 1) .. 'cquit!')
end

function H.watchdog(ms)
  vim.defer_fn(function()
    out(('TIMEOUT after %d ms (%d passed, %d failed)'):format(ms, H.passes, H.failures))
    vim.cmd('3cquit!')
  end, ms)
end

--- Wait (inside H.run) until cond() is truthy or timeout_ms passed; returns cond().
function H.await(cond, timeout_ms)
  local co = coroutine.running()
  assert(co, 'H.await must run inside H.run')
  local start = vim.uv.now()
  local timer = assert(vim.uv.new_timer())
  timer:start(
    10,
    10,
    vim.schedule_wrap(function()
      if timer:is_closing() then
        return
      end
      local ok, value = pcall(cond)
      if (ok and value) or vim.uv.now() - start > timeout_ms then
        timer:stop()
        timer:close()
        coroutine.resume(co)
      end
    end)
  )
  coroutine.yield()
  return cond()
end

--- Let the main loop run for `ms` (inside H.run).
function H.sleep(ms)
  local deadline = vim.uv.now() + ms
  H.await(function()
    return vim.uv.now() >= deadline
  end, ms + 1000)
end

--- Run the test body in a coroutine; any Lua error is a failure and ends the run.
function H.run(body)
  H.watchdog(tonumber(os.getenv('SC2_TEST_TIMEOUT_MS') or '') or 45000)
  local co = coroutine.create(function()
    local ok, err = xpcall(body, debug.traceback)
    if not ok then
      H.check('no Lua error', false, err)
    end
    H.finish()
  end)
  local ok, err = coroutine.resume(co)
  if not ok then
    H.check('no Lua error', false, err)
    H.finish()
  end
end

--- Type keys as a user would (through the main loop and mappings), then wait for cond.
function H.type(keys, cond, timeout_ms)
  vim.api.nvim_input(keys)
  if not cond then
    H.sleep(30)
    return true
  end
  return H.await(cond, timeout_ms or 5000)
end

function H.line(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1]
end

function H.mode()
  return vim.api.nvim_get_mode().mode
end

--- A fresh scratch directory for files the test edits.
function H.tempdir()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  return dir
end

return H
