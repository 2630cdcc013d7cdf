/**
 * `dump MAP`: every entry, streamed from batch lookups straight into the output buffer, so memory
 * stays constant whatever the map size.
 */
import { isKeylessType } from '../../sys/constants.js';
import { entryPrinterOf, type Command, type CommandContext } from '../command.js';
import { foundLine } from '../entries.js';
import { mapTypesOf } from '../formatter.js';
import { UsageError, parseMapRef, parseU32 } from '../grammar.js';
import { mapLabel, openMap } from '../map-ref.js';
import { Progress } from '../progress.js';
import { DecodedTable } from '../table.js';
import { RawJsonArrayEncoder } from '../raw-json.js';

/**
 * Bytes of keys and values one batch syscall reads: big batches amortize the syscall (65536
 * entries read 1M small entries ~20% faster than 4096), the byte bound keeps memory constant for
 * big or per-CPU values.
 */
const DUMP_BATCH_BYTES = 4 << 20;
const DUMP_BATCH_MAX_ENTRIES = 65536;

/** Entries per batch for a map's entry size. */
function batchSizeFor(keySize: number, valueBufferSize: number): number {
  return Math.max(1, Math.min(DUMP_BATCH_MAX_ENTRIES, Math.floor(DUMP_BATCH_BYTES / Math.max(keySize + valueBufferSize, 1))));
}

async function run({ args, options, out, stderr }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const batchOption = options.value('batch');
  const requestedBatch = batchOption === undefined ? undefined : parseU32(batchOption, '--batch');
  if (requestedBatch === 0) throw new UsageError('--batch: must be at least 1');
  options.end();
  using map = openMap(ref, { readOnly: true });
  const batchSize = requestedBatch ?? batchSizeFor(map.keySize, map.valueBufferSize);
  const printer = entryPrinterOf(map, out, (await mapTypesOf(map))?.formatter);
  const progress = new Progress(stderr, `dumping ${mapLabel(map)}`, map.maxEntries);
  // Compact JSON of raw entries, the bulk case, goes through the byte encoder.
  const raw = out.json && !out.pretty && printer.formatter === undefined ? new RawJsonArrayEncoder(printer.shape, out.writer) : undefined;
  const stream = out.json && raw === undefined ? out.jsonArray() : undefined;
  const table = !out.json && printer.formatter !== undefined ? new DecodedTable(out) : undefined;
  let count = 0;
  // Queues, stacks and bloom filters have no keys to walk: bpftool dumps them as empty.
  if (!isKeylessType(map.type)) {
    for (const batch of map.batches({ batchSize })) {
      const { keys, values, keySize, valueStride } = batch;
      for (let i = 0; i < batch.count; i++) {
        if (raw) raw.entry(keys, i * keySize, values, i * valueStride);
        else if (stream) stream.item(printer.json(keys, i * keySize, values, i * valueStride));
        else if (table) table.add(printer.formatted(keys, i * keySize, values, i * valueStride) ?? {});
        else out.line(printer.text(keys, i * keySize, values, i * valueStride));
      }
      count += batch.count;
      progress.add(batch.count);
    }
  }
  progress.finish();
  table?.finish();
  if (raw) raw.close();
  else if (stream) stream.close();
  else out.line(foundLine(count));
}

/** `dump MAP`. */
export const dumpCommand: Command = { run };
