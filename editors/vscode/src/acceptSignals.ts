// Owns turning VS Code's partial-accept reports into the server's `sc2.partiallyAccepted`
// signals. VS Code reports how much of an item is accepted so far (cumulative), and reports
// each accept twice (as a number and as an info object); the server wants the characters each
// accept took, once. Pure (no `vscode` import) so it is unit-tested outside the editor.

export const PARTIALLY_ACCEPTED = 'sc2.partiallyAccepted';

/** An LSP command as the server puts it on an item: `sc2.accepted` with one object argument. */
export interface ItemCommand {
  command: string;
  arguments?: unknown[];
}

/** The accepted length in a report: `acceptedLength` as a number or inside an info object. */
export function acceptedLength(info: unknown): number | undefined {
  if (typeof info === 'number') return info;
  if (typeof info === 'object' && info !== null && 'acceptedLength' in info) {
    const length = (info as { acceptedLength: unknown }).acceptedLength;
    if (typeof length === 'number') return length;
  }
  return undefined;
}

export class PartialAccepts<Item extends object> {
  private readonly taken = new WeakMap<Item, number>();

  /** The characters this report adds for `item`; 0 when it repeats what was counted. */
  delta(item: Item, accepted: number): number {
    const before = this.taken.get(item) ?? 0;
    if (accepted <= before) return 0;
    this.taken.set(item, accepted);
    return accepted - before;
  }
}

/** The `sc2.partiallyAccepted` command for `length` characters of the item whose accept
 * command is `command`; undefined for an item that is not the server's. */
export function partialSignal(command: ItemCommand | undefined, length: number): ItemCommand | undefined {
  const argument = command?.arguments?.[0];
  if (typeof argument !== 'object' || argument === null || !('id' in argument) || length <= 0) return undefined;
  return { command: PARTIALLY_ACCEPTED, arguments: [{ ...argument, length }] };
}
