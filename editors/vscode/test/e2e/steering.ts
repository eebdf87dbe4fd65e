// The steering steps of the VS Code end-to-end scenario: what the server's private statistics
// hold after accepts and partial accepts (read with `sc2-lsp stats --json`), a Jupyter
// notebook cell completed with the cells before it in the prompt, and cycling through
// alternatives with Alt+].

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { check, count, editSettings, env, focusEditorEnd, ghostText, log, MACHINE_SETTINGS, quickPick, runCommand, sc2Log, shot, waitFor, WS } from './workbench';

const LINES_MODEL = env('E2E_LINES_MODEL');
const STATE = env('E2E_STATE');
const SC2 = env('E2E_SC2');
const NOTEBOOK = 'analysis.ipynb';

interface Accepts {
  accepted: number;
  partlyAccepted: number;
  charsAccepted: number;
}

/** Accept counts over every language and model, from `sc2-lsp stats --json`. */
function accepts(): Accepts {
  const out = execFileSync(SC2, ['stats', '--json'], { env: { ...process.env, SC2_LSP_STATE_DIR: STATE }, encoding: 'utf8' });
  const entries = (JSON.parse(out) as { entries: Accepts[] }).entries;
  const total = (key: keyof Accepts): number => entries.reduce((sum, entry) => sum + entry[key], 0);
  return { accepted: total('accepted'), partlyAccepted: total('partlyAccepted'), charsAccepted: total('charsAccepted') };
}

/** Waits until the statistics say exactly `want` (the server writes accepts at once). */
export async function checkAccepts(page: Page, what: string, want: Accepts): Promise<void> {
  const same = (got: Accepts): boolean => JSON.stringify(got) === JSON.stringify(want);
  const got = await waitFor(page, async () => accepts(), same, 5000);
  check(`stats after ${what}: ${JSON.stringify(want)}`, same(got), JSON.stringify(got));
}

/** The ghost text shown in the notebook's cells. */
async function cellGhost(page: Page): Promise<string> {
  const text = await page.evaluate(() =>
    Array.from(document.querySelectorAll('.notebook-editor .monaco-editor [class*="ghost-text"]'))
      .filter((el) => !el.querySelector('[class*="ghost-text"]'))
      .map((el) => el.textContent ?? '')
      .join(''),
  );
  return text.replace(/\u00a0/g, ' ');
}

async function notebookCell(page: Page): Promise<void> {
  await page.keyboard.press('Control+P');
  await quickPick(page, NOTEBOOK);
  const cell = page.locator('.notebook-editor .monaco-editor .view-lines:has-text("total")');
  await cell.waitFor({ state: 'visible', timeout: 20000 });
  await cell.click();
  await page.keyboard.press('End');
  await page.keyboard.type(' ', { delay: 40 });
  const ghost = await waitFor(page, () => cellGhost(page), (g) => g === 'xx', 15000);
  await shot(page, '13-notebook-cell.png');
  check('notebook: ghost text in the third cell ("total = ")', ghost === 'xx', JSON.stringify(ghost));
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+S');
  const file = path.join(WS, NOTEBOOK);
  const saved = await waitFor(page, async () => fs.readFileSync(file, 'utf8'), (t) => t.includes('total = xx'), 5000);
  check('notebook: Tab accepted it into the cell; saved', saved.includes('total = xx'), saved.slice(0, 300));
  await runCommand(page, 'SC2: Show Last Prompt');
  const shownText = (): Promise<string> =>
    page.evaluate(() => Array.from(document.querySelectorAll('.editor-instance .view-lines')).map((e) => e.textContent ?? '').join('\n'));
  // Monaco renders spaces as U+00A0.
  const prompt = (await waitFor(page, shownText, (t) => t.includes('rates'), 10000)).replace(/\u00a0/g, ' ');
  await shot(page, '14-notebook-prompt.png');
  const first = prompt.indexOf('import numpy as np');
  check(
    'notebook: the prompt holds the earlier cells, marked, before the cursor cell',
    first >= 0 && prompt.includes('# %% [markdown]') && prompt.includes('# Total of the rates') && first < prompt.lastIndexOf('total ='), // its trailing space healed: spelled by the model
    prompt.slice(0, 400),
  );
  await page.keyboard.press('Control+W');
}

async function cycleAlternatives(page: Page): Promise<void> {
  const loads = count(sc2Log(), 'lines.gguf ready');
  editSettings(MACHINE_SETTINGS, (s) => (s['sc2.model.path'] = LINES_MODEL));
  await waitFor(page, async () => count(sc2Log(), 'lines.gguf ready'), (c) => c > loads, 30000);
  await page.click('.tab[aria-label*="main.py"]');
  await focusEditorEnd(page);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  const block = await waitFor(page, () => ghostText(page), (g) => g.length > 2 && /^x+$/.test(g), 15000);
  await shot(page, '15-alternative-first.png');
  check('a block of lines as ghost text (alternative 1 of 2)', /^x{3,}$/.test(block), JSON.stringify(block));
  await page.keyboard.press('Alt+BracketRight');
  const next = await waitFor(page, () => ghostText(page), (g) => g === 'x', 10000);
  const hint = await page.evaluate(() => document.querySelector('.inlineSuggestionsHints')?.textContent ?? '');
  await shot(page, '16-alternative-next.png');
  log(`after Alt+]: ghost ${JSON.stringify(next)}, toolbar ${JSON.stringify(hint)}`);
  check('Alt+] shows the next alternative: the first line alone, 2/2', next === 'x' && hint.includes('2/2'), `${JSON.stringify(next)} ${JSON.stringify(hint)}`);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+S');
  const file = path.join(WS, 'main.py');
  const saved = await waitFor(page, async () => fs.readFileSync(file, 'utf8'), (t) => /\n\nx$/.test(t), 5000);
  check('Tab accepted the alternative shown', /\n\nx$/.test(saved), JSON.stringify(saved.slice(-40)));
}

export async function steering(page: Page): Promise<void> {
  await notebookCell(page);
  await checkAccepts(page, 'the notebook cell', { accepted: 2, partlyAccepted: 1, charsAccepted: 16 });
  await cycleAlternatives(page);
  await checkAccepts(page, 'the alternative', { accepted: 3, partlyAccepted: 1, charsAccepted: 17 });
}
