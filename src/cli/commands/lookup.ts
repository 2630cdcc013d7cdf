/** `lookup MAP key DATA`: one entry, or bpftool's `null` / "Not found" when the key is missing. */
import { isKeylessType } from '../../sys/constants.js';
import { entryPrinterOf, parseKey, printEntry, type Command, type CommandContext } from '../command.js';
import { hexText } from '../entries.js';
import { fieldFormatOptionOf, mapTypesOf } from '../formatter.js';
import { OperationError, parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  const format = await fieldFormatOptionOf(options);
  options.end();
  using map = openMap(ref, { readOnly: true });
  if (isKeylessType(map.type)) throw new OperationError(`${map.typeName} maps have no keys: use 'peek'`);
  const types = await mapTypesOf(map, format);
  const key = parseKey(args, map, types);
  args.end();
  const value = new Uint8Array(map.valueBufferSize);
  if (!map.getInto(key, value)) {
    // bpftool prints `null` for a missing key in JSON mode; both modes fail with status 1.
    throw new OperationError(`key not found: ${hexText(key).replace(/\n/g, ' ')}`, { jsonDocument: null });
  }
  printEntry(out, entryPrinterOf(map, out, types?.formatter), key, value);
}

/** `lookup MAP key DATA`. */
export const lookupCommand: Command = { run };
