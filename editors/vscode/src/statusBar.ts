// Owns the status-bar item: it renders the status store and opens the SC2 menu on click.

import * as vscode from 'vscode';
import { render, type StatusStore, type StatusView } from './status';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('sc2.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subscription: { dispose(): void };

  constructor(store: StatusStore) {
    this.item.name = 'SC2';
    this.item.command = 'sc2.showMenu';
    this.show(render(store.state));
    this.subscription = store.onChange((state) => this.show(render(state)));
    this.item.show();
  }

  private show(view: StatusView): void {
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(view.tooltip, true);
    this.item.tooltip = tooltip;
    this.item.accessibilityInformation = { label: view.label };
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
