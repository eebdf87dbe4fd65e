// Page-level helpers for the VS Code end-to-end scenario (harness.ts, steering.ts): the E2E_*
// settings test/e2e.sh passes in, checks, waiting, and reading the workbench (ghost text, the
// status bar, the SC2 log) and driving it (quick picks, commands, typing, settings files).

import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';

export const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run test/e2e.sh)`);
  return value;
};
export const URL_BASE = env('E2E_URL');
export const WS = env('E2E_WS');
export const SHOTS = env('E2E_SHOTS');
export const MACHINE_SETTINGS = env('E2E_MACHINE_SETTINGS');
export const LOGS = env('E2E_LOGS');
export const MISSING_MODEL = env('E2E_MISSING_MODEL');
export const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
export const FILE = 'main.py';

const t0 = Date.now();
export const log = (message: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);
let failures = 0;
export const failed = (): number => failures;
export function check(name: string, ok: boolean, detail = ''): boolean {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` -- ${detail}` : ''}`);
  if (!ok) failures++;
  return ok;
}

export async function waitFor<T>(page: Page, probe: () => Promise<T>, ok: (value: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let value = await probe();
  while (!ok(value) && Date.now() < end) {
    await page.waitForTimeout(100);
    value = await probe();
  }
  return value;
}

/** The ghost text on screen, spaces normalised (Monaco renders them as U+00A0). */
export async function ghostText(page: Page): Promise<string> {
  const text = await page.evaluate(() =>
    Array.from(document.querySelectorAll('.editor-instance .monaco-editor [class*="ghost-text"]'))
      .filter((el) => !el.querySelector('[class*="ghost-text"]'))
      .map((el) => el.textContent ?? '')
      .join(''),
  );
  return text.replace(/\u00a0/g, ' ');
}

/** The accessible label of the SC2 status-bar item ("SC2: ready, ..."), or "". */
export async function statusLabel(page: Page): Promise<string> {
  return page.evaluate(
    () => document.querySelector('.part.statusbar [aria-label^="SC2:"]')?.getAttribute('aria-label') ?? '',
  );
}

export async function waitStatus(page: Page, prefix: string, ms = 30000): Promise<string> {
  const t = Date.now();
  const label = await waitFor(page, () => statusLabel(page), (l) => l.startsWith(prefix), ms);
  log(`status bar "${label}" after ${Date.now() - t} ms`);
  return label;
}

/** Filters the open quick pick by `text` and picks the row it focuses (which must match). */
export async function quickPick(page: Page, text: string, listedFirst = false): Promise<void> {
  const row = `.quick-input-list .monaco-list-row[aria-label*="${text}"]`;
  // A pick opened by an extension appears a moment after the command runs; typing earlier
  // would go to the previous one.
  if (listedFirst) await page.waitForSelector(row, { timeout: 10000 });
  await page.keyboard.type(text);
  await page.waitForSelector(`${row}.focused`, { timeout: 10000 });
  await page.keyboard.press('Enter');
}

/** Clicks the SC2 status-bar item, then moves the mouse away so its hover cannot cover toasts. */
export async function openMenu(page: Page): Promise<void> {
  await page.click('.part.statusbar [aria-label^="SC2:"]');
  await page.mouse.move(640, 300);
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
}

export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await quickPick(page, title);
}

export async function focusEditorEnd(page: Page): Promise<void> {
  await page.click(`.editor-instance .monaco-editor .view-lines`);
  await page.keyboard.press('Control+End');
}

/** Types on a new last line and waits for ghost text equal to `expected`. */
export async function typeForGhost(page: Page, typed: string, expected: string, ms = 15000): Promise<string> {
  await focusEditorEnd(page);
  await page.keyboard.press('Enter');
  const t = Date.now();
  await page.keyboard.type(typed, { delay: 40 });
  const ghost = await waitFor(page, () => ghostText(page), (g) => g === expected, ms);
  log(`typed "${typed}": ghost ${JSON.stringify(ghost)} after ${Date.now() - t} ms`);
  return ghost;
}

export async function saveAndRead(page: Page, want: (text: string) => boolean): Promise<string> {
  await page.keyboard.press('Control+S');
  const file = path.join(WS, FILE);
  return waitFor(page, async () => fs.readFileSync(file, 'utf8'), want, 5000);
}

export function editSettings(file: string, change: (settings: Record<string, unknown>) => void): void {
  const settings = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(settings);
  // In place, as an editor saves: VS Code watches this path (a rename would go unnoticed).
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** The SC2 log channel's file (VS Code writes LogOutputChannels under the logs folder). */
export function sc2Log(): string {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/SC2\.log$/.test(entry.name)) found.push(full);
    }
  };
  if (fs.existsSync(LOGS)) walk(LOGS);
  return found.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

export const count = (text: string, needle: string): number => text.split(needle).length - 1;

export const SENT = 'settings for the server: ';

/** Waits until the extension has answered `workspace/configuration` with `fragment` in it. */
export async function waitSettingsSent(page: Page, before: number, fragment: string): Promise<boolean> {
  const sent = (): string[] => sc2Log().split('\n').filter((l) => l.includes(SENT)).slice(before);
  const lines = await waitFor(page, async () => sent(), (l) => l.some((x) => x.includes(fragment)), 10000);
  return lines.some((x) => x.includes(fragment));
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, name) });
}
