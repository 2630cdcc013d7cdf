/**
 * `hist MAP [--linear] [--section FIELD]`: the histogram a map keyed by bucket slot holds, in
 * bcc's layout. Keys are slots (a 4- or 8-byte integer, or with BTF a struct with `--section`
 * naming the field that splits histograms and one other integer field as the slot); values are
 * counts (4 or 8 bytes, per-CPU counts summed).
 */
import type { BpfMap } from '../../map/bpf-map.js';
import { isKeylessType } from '../../sys/constants.js';
import { entryShapeOf, type Command, type CommandContext } from '../command.js';
import { mapTypesOf, type MapTypes } from '../formatter.js';
import { OperationError, UsageError, parseMapRef } from '../grammar.js';
import { linearBuckets, linearHistText, log2Buckets, log2HistText } from '../histogram.js';
import { openMap } from '../map-ref.js';
import { scalarText } from '../table.js';

/** Slots past this are not histogram slots (bcc's log2 histograms have 64). */
const MAX_SLOTS = 1 << 16;

function readUnsigned(bytes: Uint8Array, offset: number, size: number, what: string): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 8) return view.getBigUint64(offset, true);
  if (size === 4) return BigInt(view.getUint32(offset, true));
  if (size === 2) return BigInt(view.getUint16(offset, true));
  if (size === 1) return BigInt(view.getUint8(offset));
  throw new OperationError(`${what} of ${size} bytes is not a slot or count: hist needs 1, 2, 4 or 8-byte integers (or BTF)`);
}

function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new OperationError(`${what} is not an integer: ${String(value)}`);
}

/** Decodes one key into its section (undefined without --section) and slot. */
function keyReader(map: BpfMap, types: MapTypes | undefined, section: string | undefined): (keys: Uint8Array, offset: number) => { section: unknown; slot: bigint } {
  const keyCodec = types?.keyCodec;
  if (section === undefined) {
    if (keyCodec !== undefined) {
      return (keys, offset) => {
        const key = keyCodec.decode(keys, offset);
        if (typeof key === 'object' && key !== null) throw new UsageError('the key is a struct: name the field that splits histograms with --section FIELD');
        return { section: undefined, slot: toBigInt(key, 'key') };
      };
    }
    return (keys, offset) => ({ section: undefined, slot: readUnsigned(keys, offset, map.keySize, 'a key') });
  }
  if (keyCodec === undefined) throw new UsageError('--section needs a map whose key type is known from BTF');
  return (keys, offset) => {
    const key = keyCodec.decode(keys, offset) as Record<string, unknown>;
    if (typeof key !== 'object' || key === null || !(section in key)) throw new UsageError(`--section ${section}: the key has no field '${section}'`);
    const others = Object.keys(key).filter((name) => name !== section);
    if (others.length !== 1) throw new UsageError(`--section ${section}: the key must have one other field, the slot; it has ${others.join(', ')}`);
    return { section: key[section], slot: toBigInt(key[others[0] as string], `key field ${others[0]}`) };
  };
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const linear = options.flag('linear');
  const section = options.value('section');
  options.end();
  using map = openMap(ref, { readOnly: true });
  if (isKeylessType(map.type)) throw new OperationError(`${map.typeName} maps have no slots`);
  const types = await mapTypesOf(map);
  const readKey = keyReader(map, types, section);
  const shape = entryShapeOf(map);
  const valueCodec = types?.valueCodec;
  const readCount = (values: Uint8Array, offset: number): bigint =>
    valueCodec !== undefined ? toBigInt(valueCodec.decode(values, offset), 'value') : readUnsigned(values, offset, map.valueSize, 'a value');
  // Sections in first-seen order, each a dense array of counts by slot.
  const sections = new Map<string, { section: unknown; counts: bigint[] }>();
  for (const batch of map.batches()) {
    for (let i = 0; i < batch.count; i++) {
      const { section: sectionValue, slot } = readKey(batch.keys, i * batch.keySize);
      if (slot < 0n || slot >= BigInt(MAX_SLOTS)) throw new OperationError(`slot ${slot} is out of range for a histogram (0-${MAX_SLOTS - 1})`);
      let count = 0n;
      for (let cpu = 0; cpu < shape.cpus; cpu++) count += readCount(batch.values, i * batch.valueStride + cpu * shape.cpuStride);
      const name = sectionValue === undefined ? '' : scalarText(sectionValue as string);
      let histogram = sections.get(name);
      if (histogram === undefined) {
        histogram = { section: sectionValue, counts: [] };
        sections.set(name, histogram);
      }
      const index = Number(slot);
      while (histogram.counts.length <= index) histogram.counts.push(0n);
      histogram.counts[index] = (histogram.counts[index] ?? 0n) + count;
    }
  }
  const ordered = [...sections.values()].sort((a, b) => compareSections(a.section, b.section));
  if (out.json) {
    const histograms = ordered.map(({ section: sectionValue, counts }) => ({
      ...(section !== undefined ? { [section]: sectionValue } : {}),
      buckets: (linear ? linearBuckets(counts) : log2Buckets(counts)).map(({ low, high, count }) => (linear ? { value: low, count } : { low, high, count })),
    }));
    out.document({ type: linear ? 'linear' : 'log2', histograms });
    return;
  }
  for (const { section: sectionValue, counts } of ordered) {
    if (section !== undefined) out.line(`\n${section} = ${scalarText(sectionValue as string)}`);
    for (const line of linear ? linearHistText(counts) : log2HistText(counts)) out.line(line);
  }
}

function compareSections(a: unknown, b: unknown): number {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a < b ? -1 : a > b ? 1 : 0;
  return String(a).localeCompare(String(b));
}

/** `hist MAP [--linear] [--section FIELD]`. */
export const histCommand: Command = { run };
