/** `getnext MAP [key DATA]`: the key after DATA (or the first key), in bpftool's shapes. */
import { isKeylessType } from '../../sys/constants.js';
import { parseKey, type Command, type CommandContext } from '../command.js';
import { hexStrings, hexText } from '../entries.js';
import { OperationError, parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';
import { mapTypesOf } from '../formatter.js';

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  options.end();
  using map = openMap(ref, { readOnly: true });
  if (isKeylessType(map.type)) throw new OperationError(`${map.typeName} maps have no keys`);
  const key = args.done ? undefined : parseKey(args, map, await mapTypesOf(map));
  args.end();
  const next = map.nextKey(key);
  if (next === undefined) {
    throw new OperationError(key === undefined ? 'no next key: the map is empty' : 'no next key: this is the last key');
  }
  if (out.json) {
    out.document({ key: key === undefined ? null : hexStrings(key), next_key: hexStrings(next) });
    return;
  }
  out.line(key === undefined ? 'key: None' : `key:\n${hexText(key)}`);
  out.line(`next key:\n${hexText(next)}`);
}

/** `getnext MAP [key DATA]`. */
export const getnextCommand: Command = { run };
