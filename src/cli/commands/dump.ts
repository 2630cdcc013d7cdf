/**
 * `dump MAP`: every entry, streamed from batch lookups straight into the output buffer, so memory
 * stays constant whatever the map size.
 */
import { isKeylessType } from '../../sys/constants.js';
import { entryPrinterOf, type Command, type CommandContext } from '../command.js';
import { foundLine } from '../entries.js';
import { formatterOf } from '../formatter.js';
import { parseMapRef, parseU32 } from '../grammar.js';
import { openMap } from '../map-ref.js';
import { Progress } from '../progress.js';
import { DecodedTable } from '../table.js';

/** Entries per batch syscall: large enough to amortize the syscall, small enough for the cache. */
const DUMP_BATCH_SIZE = 8192;

function run({ args, options, out, stderr }: CommandContext): void {
  const ref = parseMapRef(args);
  args.end();
  const batchOption = options.value('batch');
  const batchSize = batchOption === undefined ? DUMP_BATCH_SIZE : parseU32(batchOption, '--batch');
  options.end();
  using map = openMap(ref, { readOnly: true });
  const printer = entryPrinterOf(map, out, formatterOf(map));
  const progress = new Progress(stderr, `dumping ${map.name || `map ${map.id}`}`, map.maxEntries);
  const stream = out.json ? out.jsonArray() : undefined;
  const table = !out.json && printer.formatter !== undefined ? new DecodedTable(out) : undefined;
  let count = 0;
  // Queues, stacks and bloom filters have no keys to walk: bpftool dumps them as empty.
  if (!isKeylessType(map.type)) {
    for (const batch of map.batches({ batchSize })) {
      const { keys, values, keySize, valueStride } = batch;
      for (let i = 0; i < batch.count; i++) {
        if (stream) stream.item(printer.json(keys, i * keySize, values, i * valueStride));
        else if (table) table.add(printer.formatted(keys, i * keySize, values, i * valueStride) ?? {});
        else out.line(printer.text(keys, i * keySize, values, i * valueStride));
      }
      count += batch.count;
      progress.add(batch.count);
    }
  }
  progress.finish();
  table?.finish();
  if (stream) stream.close();
  else out.line(foundLine(count));
}

/** `dump MAP`. */
export const dumpCommand: Command = { name: 'dump', usage: 'dump   MAP [--batch N]', run };
