-- :checkhealth sc2_lsp — Neovim version and which ghost-text path is used, the server
-- executable and its version, whether a client runs and its model is ready, key conflicts.
local M = {}

local function server_version(exe)
  local ok, proc = pcall(vim.system, { exe, '--version' }, { text = true })
  if not ok then
    return nil
  end
  local done = proc:wait(20000)
  return done.code == 0 and vim.trim(done.stdout or '') or nil
end

function M.check()
  local health = vim.health
  local sc2 = require('sc2_lsp')
  local options = require('sc2_lsp.config').options
  local server = require('sc2_lsp.server')

  health.start('Neovim')
  local version = tostring(vim.version())
  if vim.fn.has('nvim-0.10') == 0 then
    health.error(('Neovim %s is too old; sc2_lsp needs 0.10 or newer'):format(version))
  end
  local builtin = require('sc2_lsp.builtin').available()
  health.info(
    ('Neovim %s; vim.lsp.inline_completion %s'):format(
      version,
      builtin and 'available' or 'not available'
    )
  )
  if sc2.engine_name then
    health.ok(
      ('ghost text: %s'):format(
        sc2.engine_name == 'builtin' and 'built-in vim.lsp.inline_completion'
          or 'plugin renderer (extmarks)'
      )
    )
  else
    health.warn('setup() has not been called', { "require('sc2_lsp').setup({ ... })" })
  end
  health.info(
    ('registration: %s'):format(
      vim.lsp.config and 'vim.lsp.config/enable' or 'FileType + vim.lsp.start'
    )
  )

  health.start('Server')
  local cmd = options.cmd
  local exe = type(cmd) == 'table' and vim.fn.exepath(cmd[1]) or ''
  if type(cmd) ~= 'table' then
    health.info('cmd is a function; cannot check the executable')
  elseif exe == '' then
    health.error(('`%s` not found'):format(tostring(cmd[1])), {
      'pip install sc2-lsp (in the environment on $PATH), or',
      "setup({ cmd = { '/path/to/venv/bin/sc2-lsp', '--stdio' } })",
    })
  else
    health.ok(('server: %s'):format(exe))
  end

  local client = server.client(nil, true)
  local status
  if client then
    local answer = server.request_sync(
      client,
      'workspace/executeCommand',
      { command = 'sc2.status', arguments = {} },
      5000
    )
    status = answer and answer.result or require('sc2_lsp.status').by_client[client.id]
  end
  if status and status.version then
    health.ok(('version: sc2-lsp %s'):format(status.version))
  elseif exe ~= '' then
    local v = server_version(exe)
    if v then
      health.ok(('version: %s'):format(v))
    else
      health.warn(('`%s --version` failed'):format(exe))
    end
  end

  health.start('Model')
  if not client then
    health.info('no sc2-lsp client is running: open a file of a configured filetype, then rerun')
  elseif not status then
    health.warn('the server did not answer sc2.status')
  else
    local model = status.model or {}
    local path = model.path ~= vim.NIL and model.path or '?'
    if model.state == 'ready' then
      health.ok(('model ready: %s'):format(path))
    elseif model.state == 'loading' then
      health.warn('model still loading')
    elseif model.state == 'failed' then
      health.error(('model failed: %s'):format(tostring(model.error)), {
        "set settings = { model = { path = '/path/to/model.gguf' } }",
        'or run `sc2-lsp model pull 3b`',
      })
    else
      health.warn(('model %s'):format(tostring(model.state)), {
        "set settings = { model = { path = '/path/to/model.gguf' } } or pass --model in cmd",
      })
    end
  end

  health.start('Keymaps')
  local names = vim.tbl_keys(options.keymaps)
  table.sort(names)
  for _, name in ipairs(names) do
    local lhs = options.keymaps[name]
    if lhs then
      local map = vim.fn.maparg(lhs, 'i', false, true)
      if map.desc and vim.startswith(map.desc, 'sc2_lsp:') then
        health.ok(('%s: %s'):format(name, lhs))
      else
        health.warn(
          ('%s: %s is mapped by something else%s'):format(
            name,
            lhs,
            map.buffer == 1 and ' (buffer-local)' or ''
          ),
          { 'see "nvim-cmp / blink.cmp" in editors/nvim/README.md' }
        )
      end
    end
  end
end

return M
