/** `peek`, `pop`/`dequeue`, `push`/`enqueue`: queue and stack maps (push also adds to bloom filters). */
import { MapType } from '../../sys/constants.js';
import { entryPrinterOf, parseValue, printEntry, pushValue, type Command, type CommandContext } from '../command.js';
import { mapTypesOf } from '../formatter.js';
import { OperationError, parseMapRef } from '../grammar.js';
import { mapLabel, openMap } from '../map-ref.js';
import type { BpfMap } from '../../map/bpf-map.js';

function requireQueue(map: BpfMap, command: string, bloom = false): void {
  if (map.type !== MapType.queue && map.type !== MapType.stack && !(bloom && map.type === MapType.bloom_filter)) {
    throw new OperationError(`${command} needs a queue${bloom ? ', stack or bloom_filter' : ' or stack'} map; ${mapLabel(map)} is ${map.typeName}`);
  }
}

/** Peek or pop: prints the element as bpftool does (`{"key":[],"value":[...]}`, `value: ...`). */
function take(remove: boolean) {
  return async ({ args, options, out }: CommandContext): Promise<void> => {
    const ref = parseMapRef(args);
    args.end();
    options.end();
    using map = openMap(ref, { readOnly: !remove });
    requireQueue(map, remove ? 'pop' : 'peek');
    const value = remove ? map.pop() : map.peek();
    if (value === undefined) throw new OperationError('empty map', { jsonDocument: null });
    printEntry(out, entryPrinterOf(map, out, (await mapTypesOf(map))?.formatter), new Uint8Array(0), value);
  };
}

async function push({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  options.end();
  using map = openMap(ref);
  // bpftool's push is its update without a key, so it adds to bloom filters too.
  requireQueue(map, 'push', true);
  const value = parseValue(args, map, await mapTypesOf(map));
  args.end();
  pushValue(map, value);
  out.done();
}

/** `peek MAP`. */
export const peekCommand: Command = { run: take(false) };
/** `pop MAP`. */
export const popCommand: Command = { run: take(true) };
/** `dequeue MAP`: `pop` under bpftool's other name. */
export const dequeueCommand: Command = { run: take(true) };
/** `push MAP value DATA`. */
export const pushCommand: Command = { run: push };
/** `enqueue MAP value DATA`: `push` under bpftool's other name. */
export const enqueueCommand: Command = { run: push };
