// Entry point: wires the log channel, status store, status bar, language client, ghost-text
// provider and commands together, and keeps the server's settings in sync with `sc2.*`.

import * as vscode from 'vscode';
import { Sc2Client } from './client';
import { registerCommands } from './commands';
import { InlineProvider, registerInlineProvider } from './inline';
import { completionsEnabled, RESTART_KEYS, type SettingsReader } from './settings';
import { StatusStore } from './status';
import { StatusBar } from './statusBar';

let client: Sc2Client | undefined;

export function activate(context: vscode.ExtensionContext): void {
  // vscode-languageclient >= 10 logs through LogOutputChannel methods (info, error, ...).
  const log = vscode.window.createOutputChannel('SC2', { log: true });
  const store = new StatusStore();
  const settings = vscodeSettings();
  client = new Sc2Client(log, store, settings);
  const sc2 = client;

  const refreshEnabled = (): void => {
    const document = vscode.window.activeTextEditor?.document;
    const languageId = document?.languageId;
    const disabled = !completionsEnabled(settings) ? 'all' : !completionsEnabled(settings, languageId) ? 'language' : undefined;
    store.update({ disabled, languageId, documentUri: document?.uri.toString() });
  };
  context.subscriptions.push(
    log,
    new StatusBar(store),
    registerInlineProvider(new InlineProvider(() => sc2.languageClient, store)),
    registerCommands({ client: sc2, log, settings }),
    vscode.window.onDidChangeActiveTextEditor(refreshEnabled),
    vscode.window.onDidChangeWindowState((state) => {
      if (state.focused) sc2.windowFocused();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('sc2')) return;
      refreshEnabled();
      if (RESTART_KEYS.some((key) => event.affectsConfiguration(`sc2.${key}`))) void sc2.restart();
      else sc2.configurationChanged();
    }),
  );
  refreshEnabled();
  void sc2.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

function vscodeSettings(): SettingsReader {
  return {
    get: (key) => vscode.workspace.getConfiguration('sc2').get(key),
    languageOverrides: (key) => {
      const out = new Map<string, unknown>();
      for (const languageId of vscode.workspace.getConfiguration('sc2').inspect(key)?.languageIds ?? []) {
        out.set(languageId, vscode.workspace.getConfiguration('sc2', { languageId }).get(key));
      }
      return out;
    },
  };
}
