// Owns the language client: finding and starting `sc2-lsp --stdio`, stopping and restarting
// it, the middleware that answers `workspace/configuration` from `sc2.*`, and the plumbing
// from `$/progress` and `sc2/status` into the status store.

import * as fs from 'fs';
import * as os from 'os';
import * as readline from 'readline';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  State,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  type ClientCapabilities,
  type FeatureState,
  type LanguageClientOptions,
  type StaticFeature,
} from 'vscode-languageclient/node';
import { resolveServer, type ServerCommand } from './serverPath';
import { StderrClassifier } from './serverLog';
import { serverSettings, type SettingsReader } from './settings';
import { applyProgress, type ServerStatus, type StatusStore } from './status';

export const NOT_FOUND =
  'sc2-lsp was not found. Install it (pip install sc2-lsp, or `make install` in its repository) ' +
  'and put it on PATH, or set "sc2.server.path" to the executable or to a Python that has it.';

export class Sc2Client implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private transition: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly store: StatusStore,
    private readonly settings: SettingsReader,
  ) {}

  /** The server as `sc2.*` and the environment describe it now (also used by model pull). */
  findServer(): ServerCommand | undefined {
    const pythonConfig = vscode.workspace.getConfiguration('python');
    return resolveServer(
      {
        setting: String(this.settings.get('server.path') ?? ''),
        workspaceFolders: (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
        pythonInterpreter: pythonConfig.get<string>('defaultInterpreterPath'),
      },
      {
        isFile: (file) => {
          try {
            return fs.statSync(file).isFile();
          } catch {
            return false;
          }
        },
        pathDirs: (process.env.PATH ?? '').split(process.platform === 'win32' ? ';' : ':'),
        platform: process.platform,
        home: os.homedir(),
      },
    );
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** The language client while it runs (inline.ts sends its requests through it). */
  get languageClient(): LanguageClient | undefined {
    return this.running ? this.client : undefined;
  }

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  restart(): Promise<void> {
    return this.serialize(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  /** Tell the server that `sc2.*` changed; it re-pulls `workspace/configuration`. */
  configurationChanged(): void {
    if (!this.running || !this.client) return;
    // settings: null makes the server pull, so the answer always goes through the middleware.
    void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
  }

  /** The window has the focus again: a model unloaded while idle loads before a keystroke. */
  windowFocused(): void {
    if (!this.running || !this.client) return;
    void this.client.sendNotification('sc2/wake');
  }

  /** The server's `sc2.lastPrompt` command: the last prompt text, or null before any. */
  async lastPrompt(): Promise<string | null | undefined> {
    if (!this.running || !this.client) return undefined;
    return (await this.client.sendRequest(ExecuteCommandRequest.type, { command: 'sc2.lastPrompt', arguments: [] })) as string | null;
  }

  dispose(): void {
    void this.stop();
  }

  // Start, stop and restart run one at a time, so a restart never races a start.
  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.transition.then(step, step);
    this.transition = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    const found = this.findServer();
    if (!found) {
      this.log.error(NOT_FOUND);
      this.log.info(`searched PATH: ${process.env.PATH ?? ''}`);
      this.store.update({ connection: 'failed', connectionError: 'sc2-lsp not found', server: undefined, progress: undefined });
      void vscode.window.showErrorMessage(NOT_FOUND, 'Open Settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'sc2.server.path');
      });
      return;
    }
    const userArgs = this.settings.get('server.args');
    const args = [...found.args, '--stdio', ...(Array.isArray(userArgs) ? userArgs.map(String) : [])];
    this.log.info(`starting ${found.command} ${args.join(' ')} (found via ${found.source})`);
    this.store.update({ connection: 'starting', connectionError: undefined, server: undefined, progress: undefined, pending: 0 });

    const client = new LanguageClient('sc2', 'SC2', { command: found.command, args }, this.clientOptions());
    client.registerFeature(new ProgressToStatus(client, this.store, this.log));
    // A client being disposed can still report; only the current one speaks for the server.
    client.onNotification('sc2/status', (status: ServerStatus) => {
      if (this.client === client) this.store.update({ server: status });
    });
    client.onDidChangeState(({ newState }) => {
      if (this.client !== client) return;
      const connection = newState === State.Running ? 'running' : newState === State.Starting ? 'starting' : 'stopped';
      const running = connection === 'running';
      // Not running (or restarted after a crash): what the old process said no longer holds.
      this.store.update((s) => ({ ...s, connection, pending: 0, server: running ? s.server : undefined, progress: running ? s.progress : undefined }));
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`the server did not start: ${message}`);
      this.store.update({ connection: 'failed', connectionError: message });
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.dispose(3000);
    } catch (error) {
      this.log.warn(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.store.update({ connection: 'stopped', connectionError: undefined, progress: undefined, pending: 0 });
  }

  private clientOptions(): LanguageClientOptions {
    const classifier = new StderrClassifier();
    return {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.log,
      // The status bar shows trouble; popping the log open on every warning steals focus.
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => serverSettings(this.settings),
      stdioOptions: {
        stdout: (input, channel) => lines(input, (line) => channel.info(line)),
        stderr: (input, channel) =>
          lines(input, (line) => {
            const { level, text } = classifier.classify(line);
            channel[level](text);
          }),
      },
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (answer instanceof ResponseError) return answer;
            return params.items.map((item, i) => {
              if (item.section !== 'sc2') return answer[i];
              const sent = serverSettings(this.settings);
              this.log.info(`settings for the server: ${JSON.stringify(sent)}`);
              return sent;
            });
          },
        },
        // Ghost text comes from the extension's own provider (inline.ts), which also reports
        // partial accepts; the client's would ask the server a second time.
        provideInlineCompletionItems: () => undefined,
        // Ghost text already shows the suggestion; a suggest-widget request on every space or
        // dot would also cancel the inline request running on the server's single model.
        provideCompletionItem: (document, position, context, token, next) =>
          this.settings.get('completion.suggestWidget') === true ? next(document, position, context, token) : undefined,
      },
    };
  }
}

/**
 * Routes `$/progress` into the status bar. It replaces the client's built-in handler for
 * `window/workDoneProgress/create` (features registered later win), because that handler
 * consumes the token's progress and offers no hook to watch it.
 */
class ProgressToStatus implements StaticFeature {
  constructor(
    private readonly client: LanguageClient,
    private readonly store: StatusStore,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
        this.store.update((s) => applyProgress(s, value));
        if (value.kind === 'end') {
          if (value.message) this.log.info(value.message);
          subscription.dispose();
        }
      });
    });
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  clear(): void {
    this.store.update({ progress: undefined });
  }
}

function lines(input: NodeJS.ReadableStream, each: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', each);
}
