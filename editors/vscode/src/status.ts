// Owns what the status bar says: the state gathered from the client's lifecycle,
// `$/progress`, the server's `sc2/status` notifications and in-flight requests, and its
// rendering to text, tooltip and severity. Pure (no `vscode` import) for unit tests.

import * as path from 'path';

/** The `sc2/status` notification and `sc2.status` command payload. */
export interface ServerStatus {
  version?: string;
  model?: {
    state?: string;
    error?: string | null;
    path?: string | null;
    template?: string | null;
    nGpuLayers?: number | null;
  };
  generating?: boolean;
  requests?: number;
  generations?: number;
  cancelled?: number;
  cacheHits?: number;
  prefetchHits?: number;
  lastLatencyMs?: number;
  index?: { state?: string; files?: number } | null;
  /** The engine process: restarts after crashes and the last cause. */
  engine?: { restarts?: number; lastCause?: string | null } | null;
  /** Open documents that get no completion (secret-like or ignored files): URI → why. */
  refusedDocuments?: Record<string, string>;
}

export type Connection = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusState {
  connection: Connection;
  /** Why the server is not running, when it is not. */
  connectionError?: string | undefined;
  /** Completions are off everywhere, or for the active editor's language. */
  disabled?: 'all' | 'language' | undefined;
  languageId?: string | undefined;
  /** The active editor's document URI, as the client sends it to the server. */
  documentUri?: string | undefined;
  /** The message of a running `$/progress`, e.g. "loading model". */
  progress?: string | undefined;
  server?: ServerStatus | undefined;
  /** Inline-completion requests the client is waiting on. */
  pending: number;
}

export type Severity = 'normal' | 'warning' | 'error';

export interface StatusView {
  text: string;
  /** Markdown. */
  tooltip: string;
  /** Short plain sentence for screen readers (and the e2e test). */
  label: string;
  severity: Severity;
}

export function initialState(): StatusState {
  return { connection: 'starting', pending: 0 };
}

export interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
  percentage?: number;
}

export function applyProgress(state: StatusState, value: ProgressValue): StatusState {
  if (value.kind === 'end') return { ...state, progress: undefined };
  const pct = value.percentage === undefined ? '' : ` ${Math.round(value.percentage)}%`;
  const message = value.message ?? value.title ?? state.progress ?? 'working';
  return { ...state, progress: message + pct };
}

export function render(state: StatusState): StatusView {
  const model = state.server?.model;
  const details = tooltipDetails(state);
  if (state.connection === 'failed') {
    return view('$(error) SC2', 'server not running', state.connectionError, details, 'error');
  }
  if (state.connection === 'stopped') {
    return view('$(debug-disconnect) SC2', 'server stopped', state.connectionError, details, 'warning');
  }
  // Until the server's first sc2/status, "running" only means the LSP handshake is done.
  if (state.connection === 'starting' || (state.server === undefined && state.progress === undefined)) {
    return view('$(loading~spin) SC2', 'starting server', undefined, details, 'normal');
  }
  if (state.progress !== undefined || model?.state === 'loading') {
    const what = state.progress ?? 'loading model';
    return view(`$(loading~spin) SC2 ${what}`, what, undefined, details, 'normal');
  }
  if (model?.state === 'unloaded') {
    return view('$(debug-pause) SC2 idle', 'model unloaded while idle; it loads again as you type', undefined, details, 'normal');
  }
  if (model?.state === 'restarting') {
    const cause = state.server?.engine?.lastCause ?? undefined;
    return view('$(sync~spin) SC2 restarting', 'model process restarting', cause, details, 'warning');
  }
  if (model?.state === 'failed') {
    return view('$(error) SC2 no model', 'model failed', model.error ?? undefined, details, 'error');
  }
  if (state.disabled !== undefined) {
    const what = state.disabled === 'language' ? `disabled for ${state.languageId ?? 'this language'}` : 'disabled';
    return view('$(circle-slash) SC2', what, undefined, details, 'normal');
  }
  const refused = state.documentUri === undefined ? undefined : state.server?.refusedDocuments?.[state.documentUri];
  if (refused !== undefined) {
    return view('$(lock) SC2', 'off for this file', refused, details, 'normal');
  }
  if (state.pending > 0 || state.server?.generating === true) {
    return view('$(sync~spin) SC2', 'generating', undefined, details, 'normal');
  }
  const ms = state.server?.lastLatencyMs;
  const latency = ms !== undefined && (state.server?.requests ?? 0) > 0 ? ` ${formatMs(ms)}` : '';
  const label = `ready${latency ? `, last suggestion${latency}` : ''}`;
  return view(`$(sparkle) SC2${latency}`, label, undefined, details, 'normal');
}

function view(text: string, label: string, problem: string | undefined, details: string[], severity: Severity): StatusView {
  const head = `**sc2-lsp**: ${label}` + (problem ? `\n\n${escapeMarkdown(problem)}` : '');
  return {
    text,
    label: `SC2: ${label}${problem ? ` (${problem})` : ''}`,
    tooltip: [head, ...(details.length ? ['', details.join('  \n')] : []), '', '_Click for the SC2 menu_'].join('\n'),
    severity,
  };
}

function tooltipDetails(state: StatusState): string[] {
  const s = state.server;
  if (!s) return [];
  const lines: string[] = [];
  const m = s.model;
  if (m?.path) lines.push(`Model: \`${path.basename(m.path)}\`${m.template ? ` (template ${m.template})` : ''}`);
  if (m?.nGpuLayers !== undefined && m.nGpuLayers !== null) lines.push(`GPU layers: ${m.nGpuLayers}`);
  if (s.requests !== undefined) {
    lines.push(`Requests: ${s.requests}, generations: ${s.generations ?? 0}, cancelled: ${s.cancelled ?? 0}`);
  }
  if (s.cacheHits !== undefined || s.prefetchHits !== undefined) {
    lines.push(`Cache hits: ${s.cacheHits ?? 0}, prefetch hits: ${s.prefetchHits ?? 0}`);
  }
  if (s.lastLatencyMs !== undefined && (s.requests ?? 0) > 0) lines.push(`Last suggestion: ${formatMs(s.lastLatencyMs)}`);
  if (s.index?.state) lines.push(`Workspace index: ${s.index.state}${s.index.files !== undefined ? ` (${s.index.files} files)` : ''}`);
  if (s.version) lines.push(`Server ${s.version}`);
  return lines;
}

export function formatMs(ms: number): string {
  if (ms < 1) return '<1 ms';
  return ms >= 10000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}

/** The one mutable copy of the state; the status bar listens to it. */
export class StatusStore {
  private current: StatusState = initialState();
  private readonly listeners = new Set<(state: StatusState) => void>();

  get state(): StatusState {
    return this.current;
  }

  update(change: Partial<StatusState> | ((state: StatusState) => StatusState)): void {
    this.current = typeof change === 'function' ? change(this.current) : { ...this.current, ...change };
    for (const listener of this.listeners) listener(this.current);
  }

  onChange(listener: (state: StatusState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}
