/**
 * `dump MAP`: every entry, streamed from batch lookups straight into the output buffer, so memory
 * stays constant whatever the map size; each batch is read while the one before is printed. A name that several maps share dumps each, with a header,
 * as bpftool does; maps whose values cannot be read from user space (perf event arrays, cgroup
 * arrays, socket maps) list their keys with the lookup's error as bpftool does.
 */
import { BpfMap } from '../../map/bpf-map.js';
import { BpfError, Errno } from '../../sys/errors.js';
import { MapType, isKeylessType } from '../../sys/constants.js';
import { entryPrinterOf, type Command, type CommandContext } from '../command.js';
import { foundLine, hexStrings, hexText, type EntryPrinter } from '../entries.js';
import { fieldFormatOptionOf, mapTypesOf } from '../formatter.js';
import type { FieldFormatOptions } from '../../codec/btf/field-format.js';
import { UsageError, parseMapRef, parseU32 } from '../grammar.js';
import { mapIdsOf, mapLabel, openMap } from '../map-ref.js';
import { toJson, type Output } from '../output.js';
import { Progress } from '../progress.js';
import { DecodedTable } from '../table.js';
import { RawJsonArrayEncoder } from '../raw-json.js';
import { strerror } from '../strerror.js';

/**
 * Bytes of keys and values one batch syscall reads: big batches amortize the syscall (65536
 * entries read 1M small entries ~20% faster than 4096), the byte bound keeps memory constant for
 * big or per-CPU values. Beyond ~16k entries a batch saves little more, while every page of its
 * buffers costs a fault the first time the kernel fills it (~10 µs each on the development VM).
 */
const DUMP_BATCH_BYTES = 1 << 20;
const DUMP_BATCH_MAX_ENTRIES = 16384;

/**
 * Map types whose lookups from user space fail by design (ENOTSUPP, or ENOSPC for a socket map
 * with 4-byte values): bpftool walks their keys and prints each lookup's error.
 */
const LOOKUP_FAILS_TYPES: ReadonlySet<number> = new Set([
  MapType.perf_event_array, MapType.cgroup_array, MapType.sockmap, MapType.sockhash,
  MapType.reuseport_sockarray, MapType.xskmap,
]);

/** Entries per batch for a map's entry size. */
function batchSizeFor(keySize: number, valueBufferSize: number): number {
  return Math.max(1, Math.min(DUMP_BATCH_MAX_ENTRIES, Math.floor(DUMP_BATCH_BYTES / Math.max(keySize + valueBufferSize, 1))));
}

/** What bpftool prints for a key whose lookup failed (`print_entry_error`), or undefined to skip it. */
function lookupErrorEntry(map: BpfMap, key: Uint8Array, errno: number, out: Output): string | undefined {
  if (out.json) return toJson({ key: hexStrings(key), value: { error: strerror(errno) } }, out.indent, 1);
  const message = errno === Errno.ENOENT ? '<no entry>'
    : errno === Errno.ENOSPC && map.type === MapType.reuseport_sockarray ? '<cannot read>' : strerror(errno);
  const breakNames = map.keySize > 16 || message.length > 16;
  const singleLine = map.keySize + message.length <= 24 && !breakNames;
  const gap = breakNames ? '\n' : ' ';
  return `key:${gap}${hexText(key)}${singleLine ? '  ' : '\n'}value:${gap}${message}`;
}

/**
 * Walks the keys of a map whose lookups may fail, printing each entry or its error as bpftool
 * does. Returns how many entries were read (bpftool's `Found N elements` counts only those).
 */
function dumpWithErrors(map: BpfMap, printer: EntryPrinter, out: Output, emit: (text: string) => void): number {
  const value = new Uint8Array(map.valueBufferSize);
  let found = 0;
  let steps = 0;
  for (let key = map.nextKey(); key !== undefined; key = map.nextKey(key)) {
    // Array-like maps walk their fixed indexes; the bound only stops a walk racing deletes.
    if (++steps > map.maxEntries + 1) break;
    let errno = 0;
    try {
      if (!map.getInto(key, value)) errno = Errno.ENOENT;
    } catch (error) {
      if (!(error instanceof BpfError) || error.errno === 0) throw error;
      errno = error.errno;
    }
    if (errno === 0) {
      emit(out.json ? printer.json(key, 0, value, 0) : printer.text(key, 0, value, 0));
      found++;
      continue;
    }
    const text = lookupErrorEntry(map, key, errno, out);
    if (text !== undefined) emit(text);
  }
  return found;
}

/** Dumps one map: its entries (a JSON array with -j), then bpftool's `Found N elements` in text. */
async function dumpOne(map: BpfMap, requestedBatch: number | undefined, context: Pick<CommandContext, 'out' | 'stderr'>, end = '\n', format?: FieldFormatOptions): Promise<void> {
  // context.stderr is read only if a progress line may show: creating process.stderr costs start-up time.
  const { out } = context;
  const batchSize = requestedBatch ?? batchSizeFor(map.keySize, map.valueBufferSize);
  const printer = entryPrinterOf(map, out, (await mapTypesOf(map, format))?.formatter);
  if (LOOKUP_FAILS_TYPES.has(map.type)) {
    const stream = out.json ? out.jsonArray() : undefined;
    const count = dumpWithErrors(map, printer, out, (text) => (stream ? stream.item(text) : out.line(text)));
    if (stream) stream.close(end);
    else out.line(foundLine(count));
    return;
  }
  const progress = new Progress(() => context.stderr, `dumping ${mapLabel(map)}`, map.maxEntries);
  // Compact JSON of raw entries, the bulk case, goes through the byte encoder.
  const raw = out.json && !out.pretty && printer.formatter === undefined ? new RawJsonArrayEncoder(printer.shape, out.writer) : undefined;
  const stream = out.json && raw === undefined ? out.jsonArray() : undefined;
  const table = !out.json && printer.formatter !== undefined ? new DecodedTable(out) : undefined;
  let count = 0;
  // Queues, stacks and bloom filters have no keys to walk: bpftool dumps them as empty.
  if (!isKeylessType(map.type)) {
    // prefetch: the kernel copies the next batch on the addon's reader thread while this one is
    // formatted (a 200k-entry dump: ~40 ms of copies hidden behind the formatting, given a free CPU).
    for (const batch of map.batches({ batchSize, prefetch: true })) {
      const { keys, values, keySize, valueStride } = batch;
      if (raw) {
        raw.entries(keys, 0, keySize, values, 0, valueStride, batch.count);
      } else {
        for (let i = 0; i < batch.count; i++) {
          if (stream) stream.item(printer.json(keys, i * keySize, values, i * valueStride));
          else if (table) table.add(printer.formatted(keys, i * keySize, values, i * valueStride) ?? {});
          else out.line(printer.text(keys, i * keySize, values, i * valueStride));
        }
      }
      count += batch.count;
      if (progress.add(batch.count)) await progress.pause();
    }
  }
  progress.finish();
  table?.finish();
  if (raw) raw.close(end);
  else if (stream) stream.close(end);
  else out.line(foundLine(count));
}

/** bpftool's header of one map among several dumped (`show_map_header_plain` / `_json`). */
function mapHeader(map: BpfMap): { id: number; type: string | number; name: string | undefined; flags: number } {
  const typeIsKnown = map.typeName !== String(map.type);
  return { id: map.id, type: typeIsKnown ? map.typeName : map.type, name: map.name === '' ? undefined : map.name, flags: map.info.flags };
}

async function run(context: CommandContext): Promise<void> {
  const { args, options, out } = context;
  const ref = parseMapRef(args);
  args.end();
  const batchOption = options.value('batch');
  const requestedBatch = batchOption === undefined ? undefined : parseU32(batchOption, '--batch');
  if (requestedBatch === 0) throw new UsageError('--batch: must be at least 1');
  const format = await fieldFormatOptionOf(options);
  options.end();
  const ids = ref.kind === 'name' ? mapIdsOf(ref) : undefined;
  if (ids === undefined || ids.length === 1) {
    using map = ids === undefined ? openMap(ref, { readOnly: true }) : BpfMap.fromId(ids[0] as number, { readOnly: true });
    await dumpOne(map, requestedBatch, context, '\n', format);
    return;
  }
  // Several maps share the name: bpftool dumps each after its header (JSON: an array of
  // `{id, type, name, flags, elements}`; text: `ID: TYPE  name NAME  flags 0x0`, blank lines between).
  if (out.json) out.writer.write('[');
  for (const [index, id] of ids.entries()) {
    using map = BpfMap.fromId(id, { readOnly: true });
    const header = mapHeader(map);
    if (out.json) {
      const fields = toJson(header, out.indent, 1);
      // The header's members, then `"elements":` and the map's array in place of the closing brace.
      const members = fields.slice(0, -1).trimEnd();
      out.writer.write(`${index > 0 ? ',' : ''}${members},${out.indent ? `\n${out.indent.repeat(2)}"elements": ` : '"elements":'}`);
      await dumpOne(map, requestedBatch, context, '', format);
      out.writer.write(out.indent ? `\n${out.indent}}` : '}');
    } else {
      if (index > 0) out.line();
      out.line(`${header.id}: ${typeof header.type === 'number' ? `type ${header.type}` : header.type}  ${header.name !== undefined ? `name ${header.name}  ` : ''}flags 0x${header.flags.toString(16)}`);
      await dumpOne(map, requestedBatch, context, '\n', format);
    }
  }
  if (out.json) out.writer.line(out.indent ? '\n]' : ']');
}

/** `dump MAP`. */
export const dumpCommand: Command = { run };
