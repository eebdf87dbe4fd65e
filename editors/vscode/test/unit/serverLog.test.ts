// Unit tests for src/serverLog.ts: server stderr lines to log levels.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { StderrClassifier } from '../../src/serverLog';

test('levels come from the server log prefix; continuation lines keep the last level', () => {
  const c = new StderrClassifier();
  assert.deepEqual(c.classify('plain before any record'), { level: 'info', text: 'plain before any record' });
  assert.deepEqual(c.classify('2026-11-27 10:11:12,345 WARNING sc2_lsp.server: slow'), { level: 'warn', text: 'sc2_lsp.server: slow' });
  assert.deepEqual(c.classify('2026-11-27 10:11:12,346 ERROR sc2_lsp.engine: boom'), { level: 'error', text: 'sc2_lsp.engine: boom' });
  assert.deepEqual(c.classify('Traceback (most recent call last):'), { level: 'error', text: 'Traceback (most recent call last):' });
  assert.equal(c.classify('2026-11-27 10:11:13,000 DEBUG x: y').level, 'debug');
  assert.equal(c.classify('2026-11-27 10:11:13,000 INFO x: y').level, 'info');
  assert.equal(c.classify('2026-11-27 10:11:13,000 CRITICAL x: y').level, 'error');
});
