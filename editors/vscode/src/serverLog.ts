// Owns routing the server's stderr into the SC2 log channel at the right level. The server
// logs "2026-01-02 10:11:12,345 LEVEL logger: message"; the channel adds its own timestamp,
// so the prefix is dropped and the level picks the channel method. Pure, for unit tests.

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;
const LEVELS: Record<string, Level> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };

export class StderrClassifier {
  // Lines without the prefix (tracebacks, progress bars) belong to the record above them.
  private level: Level = 'info';

  classify(line: string): { level: Level; text: string } {
    const match = LINE.exec(line);
    if (!match) return { level: this.level, text: line };
    this.level = LEVELS[match[1] ?? ''] ?? 'info';
    return { level: this.level, text: match[2] ?? '' };
  }
}
