/** `delete MAP key DATA`. */
import { isKeylessType } from '../../sys/constants.js';
import { parseKey, type Command, type CommandContext } from '../command.js';
import { hexText } from '../entries.js';
import { OperationError, parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';
import { mapTypesOf } from '../formatter.js';

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  options.end();
  using map = openMap(ref);
  if (isKeylessType(map.type)) throw new OperationError(`${map.typeName} maps have no keys: use 'pop'`);
  const key = parseKey(args, map, await mapTypesOf(map));
  args.end();
  if (!map.delete(key)) throw new OperationError(`delete failed: key not found: ${hexText(key).replace(/\n/g, ' ')}`);
  out.done();
}

/** `delete MAP key DATA`. */
export const deleteCommand: Command = { run };
