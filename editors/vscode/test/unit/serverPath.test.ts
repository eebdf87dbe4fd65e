// Unit tests for src/serverPath.ts: where the server executable comes from.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandHome, resolveServer, type Probe } from '../../src/serverPath';

function probe(files: string[], pathDirs: string[] = ['/usr/bin'], platform: NodeJS.Platform = 'linux'): Probe {
  const set = new Set(files);
  return { isFile: (f) => set.has(f), pathDirs, platform, home: '/home/me' };
}

test('the setting wins; a Python interpreter runs the module', () => {
  const p = probe(['/usr/bin/sc2-lsp']);
  assert.deepEqual(resolveServer({ setting: '/opt/sc2/bin/sc2-lsp', workspaceFolders: [] }, p), {
    command: '/opt/sc2/bin/sc2-lsp',
    args: [],
    source: 'sc2.server.path',
  });
  assert.deepEqual(resolveServer({ setting: '~/venv/bin/python3.11', workspaceFolders: [] }, p)?.args, ['-m', 'sc2_lsp']);
  assert.equal(resolveServer({ setting: '~/venv/bin/python3.11', workspaceFolders: [] }, p)?.command, '/home/me/venv/bin/python3.11');
});

test('then PATH, in order, skipping empty entries', () => {
  const p = probe(['/b/sc2-lsp', '/c/sc2-lsp'], ['', '/a', '/b', '/c']);
  assert.equal(resolveServer({ setting: ' ', workspaceFolders: ['/ws'] }, p)?.command, '/b/sc2-lsp');
});

test('then a workspace .venv or venv', () => {
  const p = probe(['/ws2/venv/bin/sc2-lsp']);
  const found = resolveServer({ setting: '', workspaceFolders: ['/ws1', '/ws2'] }, p);
  assert.deepEqual(found, { command: '/ws2/venv/bin/sc2-lsp', args: [], source: 'workspace venv' });
});

test('then the configured Python: its sibling script, else -m sc2_lsp', () => {
  assert.equal(
    resolveServer({ setting: '', workspaceFolders: [], pythonInterpreter: '/env/bin/python' }, probe(['/env/bin/python', '/env/bin/sc2-lsp']))?.command,
    '/env/bin/sc2-lsp',
  );
  assert.deepEqual(resolveServer({ setting: '', workspaceFolders: [], pythonInterpreter: '/env/bin/python' }, probe(['/env/bin/python'])), {
    command: '/env/bin/python',
    args: ['-m', 'sc2_lsp'],
    source: 'Python environment (-m sc2_lsp)',
  });
  // VS Code's default "python" is not a choice, and a missing interpreter is no candidate.
  assert.equal(resolveServer({ setting: '', workspaceFolders: [], pythonInterpreter: 'python' }, probe([])), undefined);
  assert.equal(resolveServer({ setting: '', workspaceFolders: [], pythonInterpreter: '/gone/python' }, probe([])), undefined);
});

test('Windows names', () => {
  const p = probe(['C:\\ws\\.venv\\Scripts\\sc2-lsp.exe'], [], 'win32');
  // path.join on this (POSIX) test host uses '/', so build the expected value the same way.
  const found = resolveServer({ setting: '', workspaceFolders: ['C:\\ws'] }, { ...p, isFile: (f) => f.endsWith('sc2-lsp.exe') && f.includes('.venv') });
  assert.equal(found?.source, 'workspace .venv');
  assert.ok(found?.command.endsWith('sc2-lsp.exe'));
});

test('expandHome', () => {
  assert.equal(expandHome('~', '/h'), '/h');
  assert.equal(expandHome('~/x', '/h'), '/h/x');
  assert.equal(expandHome('/a/~/x', '/h'), '/a/~/x');
});
