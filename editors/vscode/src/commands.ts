// Owns the SC2 commands and the status-bar menu: toggle completions (globally and per
// language), pull a model, restart the server, show the log and the last prompt.

import * as vscode from 'vscode';
import type { Sc2Client } from './client';
import { pullModel } from './modelPull';
import { completionsEnabled, type SettingsReader } from './settings';

const PROMPT_SCHEME = 'sc2-prompt';
const PROMPT_URI = vscode.Uri.from({ scheme: PROMPT_SCHEME, path: '/last-prompt.txt' });

export interface CommandDeps {
  client: Sc2Client;
  log: vscode.LogOutputChannel;
  settings: SettingsReader;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable {
  const prompt = new PromptDocument();
  return vscode.Disposable.from(
    prompt,
    vscode.workspace.registerTextDocumentContentProvider(PROMPT_SCHEME, prompt),
    vscode.commands.registerCommand('sc2.showMenu', () => showMenu(deps)),
    vscode.commands.registerCommand('sc2.toggleCompletions', () => toggleCompletions()),
    vscode.commands.registerCommand('sc2.toggleLanguage', (languageId?: string) => toggleLanguage(languageId)),
    vscode.commands.registerCommand('sc2.pullModel', (spec?: string) => pullModel(deps.client.findServer(), deps.log, spec)),
    vscode.commands.registerCommand('sc2.restartServer', () => deps.client.restart()),
    vscode.commands.registerCommand('sc2.showLog', () => deps.log.show()),
    vscode.commands.registerCommand('sc2.showLastPrompt', () => showLastPrompt(deps.client, prompt)),
  );
}

async function showMenu(deps: CommandDeps): Promise<void> {
  const languageId = vscode.window.activeTextEditor?.document.languageId;
  const on = completionsEnabled(deps.settings);
  const languageOn = languageId === undefined || completionsEnabled(deps.settings, languageId);
  type Item = vscode.QuickPickItem & { command?: string; args?: unknown[] };
  const items: Item[] = [
    on
      ? { label: '$(circle-slash) Disable completions', command: 'sc2.toggleCompletions' }
      : { label: '$(check) Enable completions', command: 'sc2.toggleCompletions' },
  ];
  if (languageId !== undefined && on) {
    items.push({
      label: languageOn ? `$(circle-slash) Disable completions for ${languageId}` : `$(check) Enable completions for ${languageId}`,
      command: 'sc2.toggleLanguage',
      args: [languageId],
    });
  }
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(cloud-download) Pull a model…', command: 'sc2.pullModel' },
    { label: '$(file-code) Show last prompt', command: 'sc2.showLastPrompt' },
    { label: '$(output) Show log', command: 'sc2.showLog' },
    { label: '$(debug-restart) Restart server', command: 'sc2.restartServer' },
    { label: '$(settings-gear) Settings', command: 'workbench.action.openSettings', args: ['sc2.'] },
  );
  const picked = await vscode.window.showQuickPick(items, { title: 'SC2', placeHolder: 'sc2-lsp: local StarCoder2 completions' });
  if (picked?.command) await vscode.commands.executeCommand(picked.command, ...(picked.args ?? []));
}

/** The scope that currently decides `sc2.<key>`, so the toggle is not shadowed by it. */
function targetFor(config: vscode.WorkspaceConfiguration, key: string): vscode.ConfigurationTarget {
  const seen = config.inspect(key);
  if (seen?.workspaceFolderValue !== undefined) return vscode.ConfigurationTarget.WorkspaceFolder;
  if (seen?.workspaceValue !== undefined) return vscode.ConfigurationTarget.Workspace;
  return vscode.ConfigurationTarget.Global;
}

async function toggleCompletions(): Promise<void> {
  const config = vscode.workspace.getConfiguration('sc2');
  const on = config.get<boolean>('completion.enable') !== false;
  await config.update('completion.enable', !on, targetFor(config, 'completion.enable'));
  void vscode.window.setStatusBarMessage(`SC2: completions ${on ? 'disabled' : 'enabled'}`, 3000);
}

async function toggleLanguage(languageId?: string): Promise<void> {
  const language = languageId ?? vscode.window.activeTextEditor?.document.languageId;
  if (!language) return;
  const config = vscode.workspace.getConfiguration('sc2', { languageId: language });
  const on = config.get<boolean>('completion.enable') !== false;
  const listed = vscode.workspace.getConfiguration('sc2').get<string[]>('completion.disabledLanguages') ?? [];
  if (on === true && !listed.includes(language)) {
    await config.update('completion.enable', false, vscode.ConfigurationTarget.Global, true);
  } else {
    // Re-enabling must undo both ways of switching a language off.
    await config.update('completion.enable', true, vscode.ConfigurationTarget.Global, true);
    if (listed.includes(language)) {
      const global = vscode.workspace.getConfiguration('sc2');
      await global.update('completion.disabledLanguages', listed.filter((l) => l !== language), targetFor(global, 'completion.disabledLanguages'));
    }
  }
}

async function showLastPrompt(client: Sc2Client, prompt: PromptDocument): Promise<void> {
  if (!client.running) {
    void vscode.window.showWarningMessage('SC2: the server is not running.');
    return;
  }
  const text = await client.lastPrompt();
  if (text === null || text === undefined) {
    void vscode.window.showInformationMessage('SC2: no prompt yet. Type in a file to get a suggestion first.');
    return;
  }
  prompt.set(text);
  const document = await vscode.workspace.openTextDocument(PROMPT_URI);
  await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

/** A read-only virtual document, so the prompt is not itself sent to the server as a file. */
class PromptDocument implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private text = '';
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(text: string): void {
    this.text = text;
    this.changed.fire(PROMPT_URI);
  }

  provideTextDocumentContent(): string {
    return this.text;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
