/** `pin MAP PATH`: pins an existing map at another path. */
import type { Command, CommandContext } from '../command.js';
import { parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';

function run({ args, options, out }: CommandContext): void {
  const ref = parseMapRef(args);
  const path = args.next('pin path');
  args.end();
  options.end();
  using map = openMap(ref);
  map.pin(path);
  out.done();
}

/** `pin MAP PATH`. */
export const pinCommand: Command = { run };
