// Unit tests for src/status.ts: what the status bar says in each state.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProgress, formatMs, initialState, render, StatusStore, type StatusState } from '../../src/status';

const ready: StatusState = {
  ...initialState(),
  connection: 'running',
  server: {
    version: '0.1.0',
    model: { state: 'ready', error: null, path: '/m/starcoder2-3b.Q4_K_M.gguf', template: 'starcoder2', nGpuLayers: 0 },
    generating: false,
    requests: 3,
    generations: 2,
    cancelled: 1,
    lastLatencyMs: 142.4,
    index: { state: 'ready', files: 12 },
  },
};

test('starting, then loading from $/progress, then ready with the last latency', () => {
  assert.equal(render(initialState()).text, '$(loading~spin) SC2');
  const loading = applyProgress({ ...ready, server: { model: { state: 'loading' } } }, { kind: 'begin', title: 'sc2-lsp', message: 'loading model' });
  assert.equal(render(loading).text, '$(loading~spin) SC2 loading model');
  assert.equal(render(loading).label, 'SC2: loading model');
  const withPct = applyProgress(loading, { kind: 'report', percentage: 42.4 });
  assert.equal(withPct.progress, 'loading model 42%');
  const done = applyProgress(withPct, { kind: 'end', message: 'x.gguf ready' });
  assert.equal(done.progress, undefined);
  const view = render({ ...ready });
  assert.equal(view.text, '$(sparkle) SC2 142 ms');
  assert.equal(view.label, 'SC2: ready, last suggestion 142 ms');
  assert.equal(view.severity, 'normal');
  assert.match(view.tooltip, /starcoder2-3b\.Q4_K_M\.gguf/);
  assert.match(view.tooltip, /Requests: 3, generations: 2, cancelled: 1/);
  assert.match(view.tooltip, /Workspace index: ready \(12 files\)/);
});

test('running but no sc2/status yet is still starting, not ready', () => {
  assert.equal(render({ ...initialState(), connection: 'running' }).label, 'SC2: starting server');
});

test('a loading model with no progress token still shows loading', () => {
  assert.equal(render({ ...ready, server: { model: { state: 'loading' } } }).label, 'SC2: loading model');
});

test('generating while a request is pending or the server says so', () => {
  assert.equal(render({ ...ready, pending: 1 }).text, '$(sync~spin) SC2');
  assert.equal(render({ ...ready, server: { ...ready.server, generating: true } }).label, 'SC2: generating');
});

test('the model process restarting after a crash, with its cause', () => {
  const cause = 'crashed with SIGSEGV (segmentation fault) while evaluating a prompt';
  const restarting = render({
    ...ready,
    server: { model: { state: 'restarting' }, engine: { restarts: 1, lastCause: cause } },
  });
  assert.equal(restarting.severity, 'warning');
  assert.equal(restarting.text, '$(sync~spin) SC2 restarting');
  assert.match(restarting.tooltip, /SIGSEGV/);
});

test('a model unloaded while idle', () => {
  const idle = render({ ...ready, server: { model: { state: 'unloaded' } } });
  assert.equal(idle.severity, 'normal');
  assert.equal(idle.text, '$(debug-pause) SC2 idle');
});

test('errors: model failed, server stopped, server not found', () => {
  const failed = render({ ...ready, server: { model: { state: 'failed', error: 'no model: run `sc2-lsp model pull`' } } });
  assert.equal(failed.severity, 'error');
  assert.equal(failed.text, '$(error) SC2 no model');
  assert.match(failed.label, /model failed \(no model/);
  assert.match(failed.tooltip, /run \\`sc2\\-lsp model pull\\`/);
  assert.equal(render({ ...ready, connection: 'stopped' }).severity, 'warning');
  const missing = render({ ...ready, connection: 'failed', connectionError: 'sc2-lsp not found' });
  assert.equal(missing.severity, 'error');
  assert.equal(missing.label, 'SC2: server not running (sc2-lsp not found)');
});

test('disabled, globally or for the language', () => {
  assert.equal(render({ ...ready, disabled: 'all', languageId: 'python' }).label, 'SC2: disabled');
  assert.equal(render({ ...ready, disabled: 'language', languageId: 'python' }).text, '$(circle-slash) SC2');
  assert.equal(render({ ...ready, disabled: 'language', languageId: 'python' }).label, 'SC2: disabled for python');
});

test('a secret-like or ignored file: off for this file, with the server\'s reason', () => {
  const uri = 'file:///w/.env';
  const server = { ...ready.server, refusedDocuments: { [uri]: 'secret-like file (repository.secretPatterns)' } };
  const view = render({ ...ready, server, documentUri: uri });
  assert.equal(view.text, '$(lock) SC2');
  assert.equal(view.label, 'SC2: off for this file (secret-like file (repository.secretPatterns))');
  assert.match(view.tooltip, /secret\\-like file/);
  assert.equal(render({ ...ready, server, documentUri: 'file:///w/app.py' }).text, '$(sparkle) SC2 142 ms');
  assert.equal(render({ ...ready, server, documentUri: uri, disabled: 'all' }).label, 'SC2: disabled');
});

test('a cache hit shows as <1 ms; no latency before the first request', () => {
  assert.equal(render({ ...ready, server: { ...ready.server, lastLatencyMs: 0 } }).text, '$(sparkle) SC2 <1 ms');
  assert.equal(render({ ...ready, server: { ...ready.server, requests: 0, lastLatencyMs: 0 } }).text, '$(sparkle) SC2');
  assert.match(render({ ...ready, server: { ...ready.server, cacheHits: 4 } }).tooltip, /Cache hits: 4, prefetch hits: 0/);
});

test('formatMs', () => {
  assert.equal(formatMs(12.4), '12 ms');
  assert.equal(formatMs(1530), '1.5 s');
  assert.equal(formatMs(15300), '15 s');
});

test('the store notifies listeners until disposed', () => {
  const store = new StatusStore();
  const seen: number[] = [];
  const sub = store.onChange((s) => seen.push(s.pending));
  store.update({ pending: 2 });
  store.update((s) => ({ ...s, pending: s.pending - 1 }));
  sub.dispose();
  store.update({ pending: 7 });
  assert.deepEqual(seen, [2, 1]);
  assert.equal(store.state.pending, 7);
});
