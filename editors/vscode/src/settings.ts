// Owns the translation from VS Code's `sc2.*` settings to the server's settings JSON: the
// object sent as initializationOptions and returned for `workspace/configuration` section
// "sc2". Pure (no `vscode` import) so it is unit-tested outside the editor.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Keys under `sc2.` that the server understands; everything else is the extension's own. */
export const SERVER_KEYS = [
  'model.path',
  'model.nGpuLayers',
  'model.nCtx',
  'model.nThreads',
  'completion.enable',
  'completion.disabledLanguages',
  'completion.disabledGlobs',
  'completion.suggestions',
  'completion.multiline',
  'completion.maxTokens',
  'completion.maxTokensLine',
  'completion.debounceMs',
  'completion.maxPredictMs',
  'prompt.maxPromptTokens',
  'repository.enabled',
  'stats.enable',
  'logLevel',
  'engine.kind',
  'engine.url',
  'engine.model',
  'engine.apiKeyEnv',
  'engine.headers',
  'engine.affinityHeader',
  'engine.caBundle',
  'engine.fallback',
] as const;

/** Changing these needs a new server process, not just a configuration re-pull. */
export const RESTART_KEYS = ['server.path', 'server.args'] as const;

export interface SettingsReader {
  /** The effective value of `sc2.<key>` (contributed default included). */
  get(key: string): unknown;
  /** Language id -> value, for every `[language]` block that sets `sc2.<key>`. */
  languageOverrides(key: string): ReadonlyMap<string, unknown>;
}

/**
 * The server's settings object. Every key is sent with its effective value, defaults
 * included: the server layers initializationOptions under this answer, so a key left out
 * here would keep a stale initializationOptions value after the user removes it.
 */
export function serverSettings(read: SettingsReader): JsonObject {
  const out: JsonObject = {};
  for (const key of SERVER_KEYS) {
    const value = toJson(read.get(key));
    if (value === undefined) continue;
    // The editor's settings UI cannot hold null; "" means "the downloaded default" (null).
    setDotted(out, key, key === 'model.path' && value === '' ? null : value);
  }
  const disabled = disabledLanguages(read);
  if (disabled.length > 0) setDotted(out, 'completion.disabledLanguages', disabled);
  return out;
}

/**
 * `completion.disabledLanguages` plus every language whose `[language]` override sets
 * `completion.enable` to false: the server has one enable flag and a deny list, so
 * per-language switches are expressed through the list.
 */
export function disabledLanguages(read: SettingsReader): string[] {
  const listed = read.get('completion.disabledLanguages');
  const out = new Set(Array.isArray(listed) ? listed.filter((x): x is string => typeof x === 'string') : []);
  for (const [language, enabled] of read.languageOverrides('completion.enable')) {
    if (enabled === false) out.add(language);
    else if (enabled === true) out.delete(language);
  }
  return [...out].sort();
}

/** Whether completions are on for `languageId` (undefined: the global switch only). */
export function completionsEnabled(read: SettingsReader, languageId?: string): boolean {
  if (read.get('completion.enable') === false) return false;
  return languageId === undefined || !disabledLanguages(read).includes(languageId);
}

export function setDotted(target: JsonObject, dotted: string, value: Json): void {
  const parts = dotted.split('.');
  const last = parts.pop();
  if (last === undefined) return;
  let node = target;
  for (const part of parts) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      const fresh: JsonObject = {};
      node[part] = fresh;
      node = fresh;
    } else {
      node = next;
    }
  }
  node[last] = value;
}

function toJson(value: unknown): Json | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  // VS Code hands out proxies; a JSON round trip gives plain data the protocol layer can send.
  return JSON.parse(JSON.stringify(value)) as Json;
}
