// Owns the "Pull Model" flow: pick a model, run `sc2-lsp model pull SPEC` with a cancellable
// progress notification fed by its progress bar, and offer to switch `sc2.model.path` to it.

import { spawn } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import { PULL_CHOICES, PullProgress, pullError, pulledPath, validateSpec } from './pullProgress';
import type { ServerCommand } from './serverPath';

const OTHER = 'other';

export async function pickSpec(): Promise<string | undefined> {
  const items: (vscode.QuickPickItem & { spec: string })[] = [
    ...PULL_CHOICES.map((c) => ({ label: c.label, description: c.spec, detail: c.detail, spec: c.spec })),
    { label: 'Other GGUF from the Hugging Face Hub…', description: 'OWNER/REPO:FILE.gguf', spec: OTHER },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'SC2: Pull Model', placeHolder: 'Model to download' });
  if (!picked) return undefined;
  if (picked.spec !== OTHER) return picked.spec;
  const typed = await vscode.window.showInputBox({
    title: 'SC2: Pull Model',
    prompt: 'Hugging Face repository and GGUF file',
    placeHolder: 'OWNER/REPO:FILE.gguf',
    validateInput: (value) => validateSpec(value),
  });
  return typed?.trim() || undefined;
}

/** Downloads `spec`; resolves to the local file, or undefined when cancelled. */
export function runPull(server: ServerCommand, spec: string, log: vscode.LogOutputChannel): Thenable<string | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `SC2: pulling ${spec}`, cancellable: true },
    (progress, token) =>
      new Promise<string | undefined>((resolve, reject) => {
        const args = [...server.args, 'model', 'pull', spec];
        log.info(`running ${server.command} ${args.join(' ')}`);
        const child = spawn(server.command, args, { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
        const bar = new PullProgress();
        let stdout = '';
        let stderr = '';
        let cancelled = false;
        token.onCancellationRequested(() => {
          cancelled = true;
          child.kill('SIGTERM');
        });
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          const step = bar.feed(chunk);
          if (step) progress.report({ increment: step.increment, message: step.message });
        });
        child.on('error', reject);
        child.on('close', (code) => {
          if (cancelled) {
            log.info(`pull of ${spec} cancelled; running it again resumes the download`);
            resolve(undefined);
          } else if (code === 0 && pulledPath(stdout)) {
            resolve(pulledPath(stdout));
          } else {
            log.error(stderr.replace(/\r/g, '\n'));
            reject(new Error(pullError(stderr)));
          }
        });
      }),
  );
}

/** The whole command: pick, download, then offer to use the file. */
export async function pullModel(server: ServerCommand | undefined, log: vscode.LogOutputChannel, spec?: string): Promise<void> {
  if (!server) {
    void vscode.window.showErrorMessage('SC2: cannot pull a model: sc2-lsp was not found (see "sc2.server.path").');
    return;
  }
  const chosen = spec ?? (await pickSpec());
  if (!chosen) return;
  let file: string | undefined;
  try {
    file = await runPull(server, chosen, log);
  } catch (error) {
    void vscode.window.showErrorMessage(`SC2: ${error instanceof Error ? error.message : String(error)}`, 'Show Log').then((c) => {
      if (c) log.show();
    });
    return;
  }
  if (!file) return;
  log.info(`downloaded ${file}`);
  const use = 'Use This Model';
  const choice = await vscode.window.showInformationMessage(`SC2: downloaded ${path.basename(file)}`, use);
  if (choice !== use) return;
  const config = vscode.workspace.getConfiguration('sc2');
  if (config.get('model.path') === file) {
    // Same setting: no configuration change would reach the server, so restart it to reload.
    await vscode.commands.executeCommand('sc2.restartServer');
  } else {
    await config.update('model.path', file, vscode.ConfigurationTarget.Global);
  }
}
