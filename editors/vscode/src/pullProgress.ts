// Owns reading `sc2-lsp model pull` output: the tqdm progress bar it writes to stderr
// (percent and "812M/1.80G [00:12<00:15, 65.2MB/s]"), the downloaded path it prints on
// stdout, and the error line it prints on failure. Pure, for unit tests.

export interface PullChoice {
  spec: string;
  label: string;
  detail: string;
}

/** What `sc2-lsp model pull` knows by name (sc2_lsp/models.py KNOWN_MODELS). */
export const PULL_CHOICES: readonly PullChoice[] = [
  { spec: '3b', label: 'StarCoder2 3B', detail: 'Q4_K_M, 1.9 GB; fast on a laptop CPU (the default)' },
  { spec: '7b', label: 'StarCoder2 7B', detail: 'Q4_K_M, 4.5 GB; better, wants a GPU or a fast CPU' },
  { spec: '15b', label: 'StarCoder2 15B', detail: 'Q4_K_M, 9.9 GB; best, wants a GPU' },
];

/** `OWNER/REPO:FILE.gguf` as `sc2-lsp model pull` accepts it; an error message otherwise. */
export function validateSpec(spec: string): string | undefined {
  const trimmed = spec.trim();
  if (PULL_CHOICES.some((c) => c.spec === trimmed)) return undefined;
  return /^[\w.-]+\/[\w.-]+:[^\s:]+\.gguf$/i.test(trimmed)
    ? undefined
    : 'Expected OWNER/REPO:FILE.gguf, e.g. bartowski/starcoder2-3b-GGUF:starcoder2-3b-Q4_K_M.gguf';
}

export interface ProgressStep {
  /** Percentage points since the previous step (VS Code's progress wants increments). */
  increment: number;
  percent: number;
  message: string;
}

const BAR = /(\d{1,3})%\|[^|]*\|\s*([^\r\n]*)/g;

/** Turns a stream of stderr chunks into progress increments. */
export class PullProgress {
  private percent = 0;
  private last = '';
  private buffered = '';

  feed(chunk: string): ProgressStep | undefined {
    // tqdm redraws with \r; keep only the tail so a bar split across chunks still parses.
    const text = this.buffered + chunk;
    this.buffered = text.slice(Math.max(0, text.length - 400));
    let last: RegExpExecArray | undefined;
    for (const match of text.matchAll(BAR)) last = match as RegExpExecArray;
    if (!last) return undefined;
    const percent = Math.min(100, Number(last[1]));
    const message = (last[2] ?? '').trim().replace(/\s+/g, ' ');
    const shown = message ? `${percent}% ${message}` : `${percent}%`;
    // The kept tail can hold a bar already reported; tqdm never goes backwards.
    if (percent < this.percent || shown === this.last) return undefined;
    const step = { increment: percent - this.percent, percent, message: shown };
    this.percent = percent;
    this.last = shown;
    return step;
  }
}

/** The downloaded file: the last non-empty stdout line. */
export function pulledPath(stdout: string): string | undefined {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1];
}

/** The line worth showing from a failed pull's stderr ("sc2-lsp: cannot download ..."). */
export function pullError(stderr: string): string {
  const lines = stderr
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/\d{1,3}%\|/.test(l));
  const own = lines.filter((l) => l.startsWith('sc2-lsp:'));
  return own[own.length - 1] ?? lines[lines.length - 1] ?? 'model pull failed';
}
