// Unit tests for src/settings.ts: the `sc2.*` -> server settings translation.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { completionsEnabled, disabledLanguages, serverSettings, setDotted, SERVER_KEYS, type JsonObject, type SettingsReader } from '../../src/settings';
import { contributedDefaults } from './manifest';

function reader(values: Record<string, unknown>, overrides: Record<string, unknown> = {}): SettingsReader {
  const defaults = contributedDefaults();
  return {
    get: (key) => (key in values ? values[key] : defaults[`sc2.${key}`]),
    languageOverrides: (key) => new Map(key === 'completion.enable' ? Object.entries(overrides) : []),
  };
}

test('every server key is contributed, and sent with its default', () => {
  const defaults = contributedDefaults();
  for (const key of SERVER_KEYS) assert.ok(`sc2.${key}` in defaults, `package.json lacks sc2.${key}`);
  const sent = serverSettings(reader({}));
  assert.deepEqual(sent, {
    model: { path: null, nGpuLayers: -1, nCtx: 4096, nThreads: 0 },
    completion: {
      enable: true,
      disabledLanguages: [],
      disabledGlobs: [],
      suggestions: 3,
      multiline: 'auto',
      maxTokens: 128,
      maxTokensLine: 48,
      debounceMs: 30,
      maxPredictMs: 3000,
    },
    prompt: { maxPromptTokens: 3072 },
    repository: { enabled: true },
    stats: { enable: true },
    logLevel: 'info',
    engine: {
      kind: 'local',
      url: null,
      model: null,
      apiKeyEnv: null,
      headers: {},
      affinityHeader: 'X-Session-ID',
      caBundle: null,
      fallback: 'none',
    },
  });
});

test('extension-only settings never reach the server', () => {
  const sent = serverSettings(reader({ 'server.path': '/x/sc2-lsp', 'completion.suggestWidget': true, 'trace.server': 'verbose' }));
  assert.equal('server' in sent, false);
  assert.equal('trace' in sent, false);
  assert.equal('suggestWidget' in (sent.completion as JsonObject), false);
});

test('an empty model path means the downloaded default (null); a set one passes through', () => {
  assert.equal((serverSettings(reader({ 'model.path': '' })).model as JsonObject).path, null);
  assert.equal((serverSettings(reader({ 'model.path': '/m/a.gguf' })).model as JsonObject).path, '/m/a.gguf');
});

test('language overrides of completion.enable become disabledLanguages', () => {
  const read = reader({ 'completion.disabledLanguages': ['markdown', 'json'] }, { python: false, json: true, go: false });
  assert.deepEqual(disabledLanguages(read), ['go', 'markdown', 'python']);
  assert.deepEqual((serverSettings(read).completion as JsonObject).disabledLanguages, ['go', 'markdown', 'python']);
  assert.equal(completionsEnabled(read, 'python'), false);
  assert.equal(completionsEnabled(read, 'json'), true);
  assert.equal(completionsEnabled(read), true);
  assert.equal(completionsEnabled(reader({ 'completion.enable': false }), 'json'), false);
});

test('values are copied as plain JSON', () => {
  const list = ['a'];
  const sent = serverSettings(reader({ 'completion.disabledLanguages': list }));
  list.push('b');
  assert.deepEqual((sent.completion as JsonObject).disabledLanguages, ['a']);
});

test('setDotted builds nested objects and replaces non-objects on the way', () => {
  const target: JsonObject = { a: 1 };
  setDotted(target, 'a.b.c', true);
  setDotted(target, 'a.b.d', 'x');
  setDotted(target, 'top', null);
  assert.deepEqual(target, { a: { b: { c: true, d: 'x' } }, top: null });
});
