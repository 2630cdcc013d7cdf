/** `freeze MAP`: user space can no longer write the map. */
import type { Command, CommandContext } from '../command.js';
import { parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';

function run({ args, options, out }: CommandContext): void {
  const ref = parseMapRef(args);
  args.end();
  options.end();
  using map = openMap(ref);
  map.freeze();
  out.done();
}

/** `freeze MAP`. */
export const freezeCommand: Command = { run };
