// Owns finding the language server to start: the `sc2.server.path` setting, `sc2-lsp` on
// PATH, a workspace virtual environment, or the Python interpreter VS Code is configured
// with. Pure: file-system checks come in through `Probe`, so it is unit-tested directly.

import * as path from 'path';

export interface ServerCommand {
  command: string;
  /** Arguments before the user's `sc2.server.args` and `--stdio`. */
  args: string[];
  /** How it was found, for the log. */
  source: string;
}

export interface Probe {
  isFile(file: string): boolean;
  /** Entries of PATH, in order. */
  pathDirs: readonly string[];
  platform: NodeJS.Platform;
  home: string;
}

export interface ServerSearch {
  setting: string;
  workspaceFolders: readonly string[];
  /** `python.defaultInterpreterPath`, when set. */
  pythonInterpreter?: string | undefined;
}

const PYTHON_NAME = /^python[\d.]*(\.exe)?$/i;

export function resolveServer(search: ServerSearch, probe: Probe): ServerCommand | undefined {
  const win = probe.platform === 'win32';
  const exe = win ? 'sc2-lsp.exe' : 'sc2-lsp';
  const binDir = win ? 'Scripts' : 'bin';

  const setting = expandHome(search.setting.trim(), probe.home);
  if (setting !== '') {
    return PYTHON_NAME.test(path.basename(setting))
      ? { command: setting, args: ['-m', 'sc2_lsp'], source: 'sc2.server.path (Python)' }
      : { command: setting, args: [], source: 'sc2.server.path' };
  }
  for (const dir of probe.pathDirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, exe);
    if (probe.isFile(candidate)) return { command: candidate, args: [], source: 'PATH' };
  }
  for (const folder of search.workspaceFolders) {
    for (const venv of ['.venv', 'venv']) {
      const candidate = path.join(folder, venv, binDir, exe);
      if (probe.isFile(candidate)) return { command: candidate, args: [], source: `workspace ${venv}` };
    }
  }
  const python = expandHome(search.pythonInterpreter?.trim() ?? '', probe.home);
  // A bare "python" is VS Code's default value, not a choice the user made.
  if (python !== '' && path.isAbsolute(python) && probe.isFile(python)) {
    const sibling = path.join(path.dirname(python), exe);
    if (probe.isFile(sibling)) return { command: sibling, args: [], source: 'Python environment' };
    return { command: python, args: ['-m', 'sc2_lsp'], source: 'Python environment (-m sc2_lsp)' };
  }
  return undefined;
}

export function expandHome(file: string, home: string): string {
  if (file === '~') return home;
  if (file.startsWith('~/') || file.startsWith('~\\')) return path.join(home, file.slice(2));
  return file;
}
