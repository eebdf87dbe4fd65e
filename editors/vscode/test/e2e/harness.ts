// The VS Code end-to-end scenario, driven through headless Chromium (playwright-core) against
// code-server with the packaged extension installed and the real sc2-lsp server behind it.
// test/e2e.sh prepares everything and passes it in through E2E_* variables; exit code 0 means
// every check passed. Screenshots of each step go to E2E_SHOTS.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Page } from 'playwright-core';
import { checkAccepts, steering } from './steering';
import {
  CHROMIUM,
  check,
  count,
  editSettings,
  failed,
  FILE,
  ghostText,
  log,
  MACHINE_SETTINGS,
  MISSING_MODEL,
  openMenu,
  quickPick,
  runCommand,
  saveAndRead,
  SENT,
  sc2Log,
  shot,
  SHOTS,
  statusLabel,
  typeForGhost,
  URL_BASE,
  waitFor,
  waitSettingsSent,
  waitStatus,
  WS,
} from './workbench';

async function scenario(page: Page): Promise<void> {
  await page.goto(`${URL_BASE}/?folder=${encodeURIComponent(WS)}`);
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60000 });
  log('workbench up, folder open');

  // Open the file, wait for the status bar to say the model is ready.
  await page.keyboard.press('Control+P');
  await quickPick(page, FILE);
  await page.waitForSelector(`.tab[aria-label*="${FILE}"]`, { timeout: 15000 });
  const ready = await waitStatus(page, 'SC2: ready', 60000);
  check('status bar: server started from PATH, model loaded ($/progress, sc2/status)', ready.startsWith('SC2: ready'), ready);
  // The log file is flushed a moment after the channel is written.
  const logText = await waitFor(page, async () => sc2Log(), (t) => t.includes('space-x.gguf ready'), 10000);
  check('log channel: server found on PATH and started with --stdio', /starting \S+sc2-lsp --stdio \(found via PATH\)/.test(logText));
  check('log channel: model load reported through $/progress', logText.includes('space-x.gguf ready'));

  // 1. Ghost text from the server; Tab accepts the whole suggestion.
  const ghost = await typeForGhost(page, 'b =', ' x x x x x x');
  await shot(page, '01-ghost-text.png');
  check('ghost text from textDocument/inlineCompletion (maxTokensLine 6 from initializationOptions)', ghost === ' x x x x x x', JSON.stringify(ghost));
  await page.keyboard.press('Tab');
  let saved = await saveAndRead(page, (t) => t.includes('b = x x x x x x\n') || t.endsWith('b = x x x x x x'));
  await shot(page, '02-accepted-tab.png');
  check('Tab accepted the suggestion; saved file has "b = x x x x x x"', /^b = x x x x x x$/m.test(saved), JSON.stringify(saved));
  const latency = await statusLabel(page);
  check('status bar shows the last latency', /ready, last suggestion (<1|\d+(\.\d)?) m?s/.test(latency), latency);
  await page.hover('.part.statusbar [aria-label^="SC2:"]');
  const tip = await page
    .waitForSelector('.workbench-hover:has-text("sc2-lsp")', { state: 'visible', timeout: 5000 })
    .then(() => true, () => false);
  await shot(page, '03-status-tooltip.png');
  check('status-bar tooltip shows model and counters', tip);
  await page.mouse.move(640, 300);
  await page.keyboard.press('Escape');

  // 2. Accept word by word (VS Code's built-in Ctrl+Right on inline suggestions): the
  // first press takes the leading space, the second the word.
  const ghost2 = await typeForGhost(page, 'c =', ' x x x x x x');
  await page.keyboard.press('Control+ArrowRight');
  await page.waitForTimeout(200);
  await page.keyboard.press('Control+ArrowRight');
  await page.waitForTimeout(300);
  await shot(page, '04-accepted-word.png');
  await page.keyboard.press('Escape');
  saved = await saveAndRead(page, (t) => /^c = x$/m.test(t));
  check('Ctrl+Right accepted one word; saved file has "c = x"', ghost2 === ' x x x x x x' && /^c = x$/m.test(saved), JSON.stringify(saved));
  // The server heard of both: Tab's accept command, and the partial accepts through the hook.
  await checkAccepts(page, 'Tab and two Ctrl+Right', { accepted: 1, partlyAccepted: 1, charsAccepted: 14 });

  // 3. A settings change reaches the server through workspace/configuration.
  // Through the Settings editor, as a user would (it also shows the contributed settings).
  const pulls = count(sc2Log(), SENT);
  await page.keyboard.press('Control+Comma');
  await page.waitForSelector('.settings-editor', { state: 'visible', timeout: 15000 });
  await page.waitForTimeout(500);
  await page.keyboard.type('sc2.');
  await page.waitForSelector('.settings-editor .setting-item-number input', { state: 'visible', timeout: 15000 });
  await page.waitForTimeout(500);
  await shot(page, '05-settings-editor.png');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('sc2.completion.maxTokensLine');
  await page.waitForSelector('.settings-editor .setting-item-contents:has-text("Max Tokens Line") input', { state: 'visible' });
  await page.waitForTimeout(300);
  const field = page.locator('.settings-editor .setting-item-contents:has-text("Max Tokens Line") input');
  await field.fill('2');
  await page.keyboard.press('Tab');
  const pulled = await waitSettingsSent(page, pulls, '"maxTokensLine":2');
  await page.keyboard.press('Control+W');
  check('settings.json change -> didChangeConfiguration -> server re-pulled workspace/configuration', pulled);
  const ghost3 = await typeForGhost(page, 'd =', ' x x');
  await shot(page, '06-setting-changed.png');
  check('the server applies the new sc2.completion.maxTokensLine (2 tokens)', ghost3 === ' x x', JSON.stringify(ghost3));
  await page.keyboard.press('Escape');

  // 4. Status-bar menu: disable completions; the server then answers nothing.
  const sentBefore = count(sc2Log(), SENT);
  await openMenu(page);
  await shot(page, '07-status-menu.png');
  await quickPick(page, 'Disable completions', true);
  const disabled = await waitStatus(page, 'SC2: disabled', 10000);
  check('menu > Disable completions: status bar says disabled', disabled === 'SC2: disabled', disabled);
  const sentOff = await waitSettingsSent(page, sentBefore, '"enable":false');
  await typeForGhost(page, 'e =', 'never', 2500);
  const none = await ghostText(page);
  await shot(page, '08-disabled.png');
  check('disabled: the server got enable=false and suggests nothing', sentOff && none === '', JSON.stringify(none));
  await runCommand(page, 'SC2: Toggle Completions');
  const again = await waitStatus(page, 'SC2: ready', 10000);
  check('command "SC2: Toggle Completions" enables them again', again.startsWith('SC2: ready'), again);

  // 5. The last prompt, in a read-only side editor.
  await runCommand(page, 'SC2: Show Last Prompt');
  const prompt = await waitFor(
    page,
    () => page.evaluate(() => Array.from(document.querySelectorAll('.editor-instance .view-lines')).map((e) => e.textContent ?? '').join('\n')),
    (t) => t.includes('<fim_prefix>'),
    10000,
  );
  await shot(page, '09-last-prompt.png');
  check('command "SC2: Show Last Prompt" opens the prompt with its FIM sentinels', prompt.includes('<fim_prefix>') && prompt.includes('<fim_middle>'), prompt.slice(0, 120));
  await page.keyboard.press('Control+W');

  // 6. A missing model is an error in the status bar; "Pull a model" from the menu fixes it.
  editSettings(MACHINE_SETTINGS, (s) => (s['sc2.model.path'] = MISSING_MODEL));
  const failed = await waitStatus(page, 'SC2: model failed', 20000);
  await page.waitForTimeout(300);
  await shot(page, '10-model-error.png');
  check('a missing model shows as an error in the status bar', failed.startsWith('SC2: model failed'), failed);
  await page.keyboard.press('Escape'); // the server's error notification stays; the menu is keyboard-driven
  await runCommand(page, 'SC2: Pull Model');
  await quickPick(page, 'Other GGUF from the Hugging Face Hub', true);
  await page.waitForSelector('.quick-input-widget input[placeholder="OWNER/REPO:FILE.gguf"]', { state: 'visible' });
  await page.keyboard.type('test/tiny-GGUF:tiny.gguf');
  await page.keyboard.press('Enter');
  const use = '.notifications-toasts .monaco-button:has-text("Use This Model")';
  await page.waitForSelector(use, { timeout: 30000 });
  await shot(page, '11-model-pulled.png');
  check('menu > Pull a model: `sc2-lsp model pull` downloaded it', true);
  // A click event on the button itself: a status-bar hover can sit over the toast.
  await page.locator(use).dispatchEvent('click');
  const back = await waitStatus(page, 'SC2: ready', 30000);
  check('"Use This Model" sets sc2.model.path and the server loads it', back.startsWith('SC2: ready'), back);
  const ghost4 = await typeForGhost(page, 'f =', 'xx');
  await shot(page, '12-pulled-model-ghost.png');
  check('suggestions now come from the pulled model', ghost4 === 'xx', JSON.stringify(ghost4));
  await page.keyboard.press('Escape');

  // 7. Restart the server.
  // The new server has its model once it reports the load's end through $/progress (the
  // status bar alone can still show the old server's state for a moment).
  const loads = await waitFor(page, async () => count(sc2Log(), 'tiny.gguf ready'), (c) => c > 0, 10000);
  await runCommand(page, 'SC2: Restart Server');
  await waitFor(page, async () => count(sc2Log(), 'tiny.gguf ready'), (c) => c > loads, 30000);
  const restarted = await waitStatus(page, 'SC2: ready', 30000);
  const ghost5 = await typeForGhost(page, 'g =', 'xx');
  check('command "SC2: Restart Server": a new server answers', restarted.startsWith('SC2: ready') && ghost5 === 'xx', `${restarted} ${JSON.stringify(ghost5)}`);
  await page.keyboard.press('Escape');

  // 8. A notebook cell; alternatives (steering.ts).
  await steering(page);
}

async function main(): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.log(`pageerror: ${e.message}`));
  try {
    await scenario(page);
  } catch (error) {
    check('scenario ran to the end', false, error instanceof Error ? (error.stack ?? error.message) : String(error));
    await shot(page, 'zz-failure.png').catch(() => undefined);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  log(failed() === 0 ? 'ALL PASS' : `${failed()} FAILURE(S)`);
  process.exit(failed() === 0 ? 0 : 1);
}

void main();
