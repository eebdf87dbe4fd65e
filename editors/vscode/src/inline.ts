// Owns ghost text: the extension's own InlineCompletionItemProvider, which asks the server
// (`textDocument/inlineCompletion` through the language client) for files and Jupyter notebook
// cells. It gives an item without a range the empty range at the cursor (VS Code's default
// range runs to the end of the line, the server means "insert here"), and reports partial
// accepts (accept word, accept line) to the server through the `inlineCompletionsAdditions`
// hook, which VS Code calls only for an extension allowed to use that API proposal (e.g.
// `code --enable-proposed-api sc2-lsp.sc2-lsp`); elsewhere only full accepts are counted, by
// the command each item carries. The client's own inline provider stays silent (client.ts).

import * as vscode from 'vscode';
import { ExecuteCommandRequest, InlineCompletionRequest, type LanguageClient } from 'vscode-languageclient/node';
import { acceptedLength, PartialAccepts, partialSignal, type ItemCommand } from './acceptSignals';
import type { StatusStore } from './status';

export const SELECTOR: vscode.DocumentSelector = [{ scheme: 'file' }, { scheme: 'untitled' }, { notebookType: 'jupyter-notebook' }];

export class InlineProvider implements vscode.InlineCompletionItemProvider {
  private readonly commands = new WeakMap<vscode.InlineCompletionItem, ItemCommand>();
  private readonly partial = new PartialAccepts<vscode.InlineCompletionItem>();

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly store: StatusStore,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    const client = this.client();
    if (!client) return undefined;
    this.store.update((s) => ({ ...s, pending: s.pending + 1 }));
    try {
      const params = client.code2ProtocolConverter.asInlineCompletionParams(document, position, context);
      const result = await client.sendRequest(InlineCompletionRequest.type, params, token);
      if (!result || token.isCancellationRequested) return undefined;
      const items = Array.isArray(result) ? result : result.items;
      return new vscode.InlineCompletionList(
        await Promise.all(
          items.map(async (item) => {
            const converted = await client.protocol2CodeConverter.asInlineCompletionItem(item);
            converted.range ??= new vscode.Range(position, position);
            if (item.command) this.commands.set(converted, item.command);
            return converted;
          }),
        ),
      );
    } catch (error) {
      return client.handleFailedRequest(InlineCompletionRequest.type, token, error, undefined);
    } finally {
      this.store.update((s) => ({ ...s, pending: Math.max(0, s.pending - 1) }));
    }
  }

  /** The `inlineCompletionsAdditions` hook: a word or a line of `item` was accepted. */
  handleDidPartiallyAcceptCompletionItem(item: vscode.InlineCompletionItem, info: unknown): void {
    const length = acceptedLength(info);
    const client = this.client();
    if (length === undefined || !client) return;
    const signal = partialSignal(this.commands.get(item), this.partial.delta(item, length));
    if (signal) void client.sendRequest(ExecuteCommandRequest.type, signal).catch(() => undefined);
  }
}

/** Registers `provider`, with its partial-accept hook where VS Code allows the extension that
 * API proposal (registering a provider that has the hook throws elsewhere). */
export function registerInlineProvider(provider: InlineProvider): vscode.Disposable {
  try {
    return vscode.languages.registerInlineCompletionItemProvider(SELECTOR, provider);
  } catch {
    return vscode.languages.registerInlineCompletionItemProvider(SELECTOR, {
      provideInlineCompletionItems: (document, position, context, token) =>
        provider.provideInlineCompletionItems(document, position, context, token),
    });
  }
}
