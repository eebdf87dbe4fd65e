// Unit tests for src/acceptSignals.ts: VS Code's partial-accept reports to the server's signals.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptedLength, PartialAccepts, partialSignal } from '../../src/acceptSignals';

const command = { command: 'sc2.accepted', arguments: [{ id: 'a4', index: 1, position: { line: 2, character: 0 } }] };

test('a report says the accepted length as a number or inside an info object', () => {
  assert.equal(acceptedLength(3), 3);
  assert.equal(acceptedLength({ kind: 0, acceptedLength: 5 }), 5);
  assert.equal(acceptedLength({ kind: 0 }), undefined);
  assert.equal(acceptedLength(null), undefined);
});

test('cumulative reports, each made twice, become the characters each accept took', () => {
  const item = {};
  const other = {};
  const partial = new PartialAccepts<object>();
  // Accept word ("foo"), reported as 3 and { acceptedLength: 3 }; then "(bar" up to 7.
  assert.deepEqual([3, 3, 7, 7].map((length) => partial.delta(item, length)), [3, 0, 4, 0]);
  assert.equal(partial.delta(other, 2), 2);
});

test('the signal names the answer and the item, with the characters taken', () => {
  assert.deepEqual(partialSignal(command, 4), {
    command: 'sc2.partiallyAccepted',
    arguments: [{ id: 'a4', index: 1, position: { line: 2, character: 0 }, length: 4 }],
  });
  assert.equal(partialSignal(command, 0), undefined);
  assert.equal(partialSignal(undefined, 4), undefined);
  assert.equal(partialSignal({ command: 'other.command', arguments: ['x'] }, 4), undefined);
});
