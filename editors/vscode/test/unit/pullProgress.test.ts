// Unit tests for src/pullProgress.ts: reading `sc2-lsp model pull` output.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { PullProgress, pullError, pulledPath, validateSpec } from '../../src/pullProgress';

test('tqdm redraws become increments, across chunk boundaries', () => {
  const bar = new PullProgress();
  assert.deepEqual(bar.feed('starcoder2-3b.Q4_K_M.gguf:   0%|          | 0.00/1.89G [00:00<?, ?B/s]'), { increment: 0, percent: 0, message: '0% 0.00/1.89G [00:00<?, ?B/s]' });
  const a = bar.feed('\rstarcoder2-3b.Q4_K_M.gguf:  12%|█▏        | 227M/1.89G [00:03<00:25, 66.1MB/s]');
  assert.deepEqual(a, { increment: 12, percent: 12, message: '12% 227M/1.89G [00:03<00:25, 66.1MB/s]' });
  assert.equal(bar.feed('\rstarcoder2-3b.Q4_K_M.gguf:  4'), undefined);
  const b = bar.feed('5%|████▌     | 850M/1.89G [00:12<00:15, 65.2MB/s]\rx.gguf:  47%|████▋     | 888M/1.89G [00:13<00:15, 65.0MB/s]');
  assert.equal(b?.percent, 47);
  assert.equal(b?.increment, 35);
  assert.equal(bar.feed('\rx.gguf: 100%|██████████| 1.89G/1.89G [00:29<00:00, 65.0MB/s]\n')?.increment, 53);
});

test('no bar, no step; a bar never goes backwards', () => {
  const bar = new PullProgress();
  assert.equal(bar.feed('INFO something\n'), undefined);
  bar.feed('f: 50%|█████     | 5/10 [00:01<00:01]');
  assert.equal(bar.feed('\rf: 10%|█         | 1/10 [00:00<00:01]'), undefined);
});

test('the path is the last stdout line; the error is the sc2-lsp line', () => {
  assert.equal(pulledPath('/m/QuantFactory/starcoder2-3b-GGUF/starcoder2-3b.Q4_K_M.gguf\n'), '/m/QuantFactory/starcoder2-3b-GGUF/starcoder2-3b.Q4_K_M.gguf');
  assert.equal(pulledPath('\n\n'), undefined);
  assert.equal(
    pullError('x:  3%|▎ | 1/30 [00:01<00:29]\rsc2-lsp: cannot download a/b:c.gguf: connection refused\n'),
    'sc2-lsp: cannot download a/b:c.gguf: connection refused',
  );
  assert.equal(pullError('Traceback\nValueError: boom\n'), 'ValueError: boom');
  assert.equal(pullError(''), 'model pull failed');
});

test('specs: known names or OWNER/REPO:FILE.gguf', () => {
  assert.equal(validateSpec('7b'), undefined);
  assert.equal(validateSpec(' bartowski/starcoder2-3b-GGUF:starcoder2-3b-Q4_K_M.gguf '), undefined);
  assert.match(validateSpec('starcoder2') ?? '', /OWNER\/REPO:FILE\.gguf/);
  assert.match(validateSpec('a/b:c.bin') ?? '', /Expected/);
});
