/**
 * Histograms as data: the slot counts BPF tools keep in maps, turned into buckets with their
 * value ranges, per key, for the layouts the common tools use.
 *
 * Where the counts sit (found from the map):
 * - **value slots** (libbpf-tools): the value is (or holds) `struct hist { __u32 slots[N]; ... }`,
 *   one histogram per key (`-1`/`0` for "all", or a pid, cpu, device, irq name); a data section
 *   or struct may hold several (softirqs' `.bss` has `struct hist hists[NR_SOFTIRQS]`: one per
 *   index). Needs the map's BTF.
 * - **key slot** (bcc's `BPF_HISTOGRAM`, ebpf_exporter): the key is the slot (an integer, or a
 *   struct whose other fields split histograms), the value a count.
 * - **key suffix** (bpftrace): the key is the map's own keys followed by a u64 slot, the value a
 *   (per-CPU) count: `@h = hist(x)` has an 8-byte key, `@h[comm] = hist(x)` a 24-byte one.
 *
 * What a slot holds (the layout):
 * - `'libbpf-log2'`: libbpf-tools' `log2l()`: slot 0 holds 0 and 1, slot i the values
 *   [2^i, 2^(i+1) - 1]; labelled `0 -> 1`, `2 -> 3`, ... (`print_log2_hist` in trace_helpers.c).
 * - `'bcc-log2'`: bcc's `bpf_log2l()`: slot 0 is unused, slot 1 holds 0 and 1, slot i ≥ 2 the
 *   values [2^(i-1), 2^i - 1]; the same labels one slot later (bcc's table.py).
 * - `'bpftrace-hist'`: bpftrace's `hist()`: slot 0 holds negative values, slot 1 the value 0,
 *   slot k ≥ 2 the values [2^(k-2), 2^(k-1)); labelled `(..., 0)`, `[0]`, `[1]`, `[2, 4)`, ...
 *   `[1K, 2K)`, as bpftrace prints them.
 * - `{ kind: 'bpftrace-lhist', min, max, step }`: bpftrace's `lhist(x, min, max, step)`: slot 0
 *   holds values below `min`, slot i the values [min + (i-1)·step, min + i·step), the last slot
 *   values from `max` on; labelled `(..., 0)`, `[0, 10)`, ..., `[100, ...)`.
 * - `'linear'`: slot i holds the value i (bcc's `print_linear_hist`).
 *
 * The layout is found from the map when not given: value slots are libbpf-tools', a map named
 * `AT_*` without BTF whose key ends with a u64 is bpftrace's `hist()` (an `lhist()` map looks
 * the same: pass its layout), anything else bcc's.
 */
import type { Btf } from '../codec/btf/btf.js';
import { btfCodec } from '../codec/btf/codec.js';
import type { BtfMember, BtfType } from '../codec/btf/types.js';
import { argumentError } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { possibleCpus } from '../sys/cpus.js';
import type { BpfMap } from './bpf-map.js';
import { loadMapBtf } from './btf-map.js';

/** A layout without parameters. */
export type HistogramLayoutName = 'libbpf-log2' | 'bcc-log2' | 'bpftrace-hist' | 'linear';

/** bpftrace's `lhist(value, min, max, step)`. */
export interface LhistLayout {
  readonly kind: 'bpftrace-lhist';
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

/** What the slots of a histogram hold (see the module comment). */
export type HistogramLayout = HistogramLayoutName | LhistLayout;

/** One bucket: the values it counts (inclusive bounds, `null` where unbounded) and its count. */
export interface HistogramBucket {
  /** The slot in the map. */
  readonly slot: number;
  /** The smallest value counted here, or null for "everything below" (bpftrace's first slot). */
  readonly low: bigint | null;
  /** The largest value counted here, or null for "everything above" (lhist's last slot). */
  readonly high: bigint | null;
  readonly count: bigint;
  /** The range as the layout's own tool prints it: `2 -> 3`, `[4, 8)`, `[1K, 2K)`, `(..., 0)`. */
  readonly label: string;
}

/** One histogram of a map: the key it belongs to and its buckets. */
export interface Histogram {
  /**
   * The key's fields (`{ pid: 42 }`, `{ name: 'virtio3-tx' }`, `{ dev: 8388608 }`, bpftrace's
   * `{ key: 'bash' }`), or undefined for a map's single "all" key (-1, 0xffffffff, 0).
   */
  readonly key: Readonly<Record<string, unknown>> | undefined;
  /** Other members of a libbpf-tools histogram value, decoded (`{ comm: 'swapper/1' }`). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Buckets from the first non-empty slot to the last (empty histograms have none). */
  readonly buckets: readonly HistogramBucket[];
  /** Counts by slot, from slot 0 to the last non-empty one (for printing leading zero rows). */
  readonly counts: readonly bigint[];
  /** The sum of all counts. */
  readonly total: bigint;
}

/** Where a map keeps its counts. */
export type HistogramSource = 'value-slots' | 'key-slot' | 'key-suffix';

/** The histograms of a map and how they were read. */
export interface MapHistograms {
  readonly layout: HistogramLayout;
  readonly source: HistogramSource;
  /** One per key (or per section), in key order. */
  readonly histograms: readonly Histogram[];
}

/** Options of `readHistograms`. */
export interface ReadHistogramsOptions {
  /** What the slots hold; found from the map when omitted. */
  readonly layout?: HistogramLayout;
  /**
   * How keys split histograms.
   * - key slot: the key field(s) (comma-separated) that split histograms; the one other field
   *   is the slot. Required when the key is a struct.
   * - value slots: the key fields (comma-separated) to keep: histograms whose kept fields are
   *   equal are added up (biolatency's `dev` without `cmd_flags`). For a scalar key, or a value
   *   holding an array of histograms, the name to give the key (`pid`, `softirq`).
   */
  readonly section?: string;
}

const HISTOGRAM_ERROR = 'ERR_BPFMAP_HISTOGRAM';

function histogramError(message: string): RangeError {
  return argumentError(RangeError, HISTOGRAM_ERROR, message);
}

/** Slots past this are not histogram slots: a key that large is not a slot. */
const MAX_SLOTS = 1 << 16;

// ----- buckets -------------------------------------------------------------------------------

/** bpftrace's `hist_index_label`: 2^power with K/M/G/T suffixes. */
function bpftracePowerLabel(power: number): string {
  let suffix = '';
  if (power >= 40) [suffix, power] = ['T', power - 40];
  else if (power >= 30) [suffix, power] = ['G', power - 30];
  else if (power >= 20) [suffix, power] = ['M', power - 20];
  else if (power >= 10) [suffix, power] = ['K', power - 10];
  return `${1n << BigInt(power)}${suffix}`;
}

/** bpftrace's `lhist_index_label`: multiples of 1M and 1K with suffixes. */
function lhistLabel(value: number): string {
  if (value === 0) return '0';
  if (value % 1048576 === 0) return `${value / 1048576}M`;
  if (value % 1024 === 0) return `${value / 1024}K`;
  return String(value);
}

/** bcc's `low -> high` text for a log2 range (the low end of `0 -> 1` is shown as 0). */
function arrowLabel(low: bigint, high: bigint): string {
  return `${low} -> ${high}`;
}

/** The bucket of `slot` with `count` in `layout`. */
export function histogramBucket(slot: number, count: bigint, layout: HistogramLayout): HistogramBucket {
  if (!Number.isInteger(slot) || slot < 0) throw histogramError(`slot must be a non-negative integer, got ${slot}`);
  const s = BigInt(slot);
  if (typeof layout === 'object') {
    const { min, max, step } = checkLhist(layout);
    const buckets = Math.floor((max - min) / step);
    if (slot === 0) return { slot, low: null, high: BigInt(min) - 1n, count, label: `(..., ${lhistLabel(min)})` };
    if (slot === buckets + 1) return { slot, low: BigInt(max), high: null, count, label: `[${lhistLabel(max)}, ...)` };
    const low = (slot - 1) * step + min;
    return { slot, low: BigInt(low), high: BigInt(low + step - 1), count, label: `[${lhistLabel(low)}, ${lhistLabel(low + step)})` };
  }
  switch (layout) {
    case 'libbpf-log2': {
      const low = slot === 0 ? 0n : 1n << s;
      const high = (1n << (s + 1n)) - 1n;
      return { slot, low, high, count, label: arrowLabel(low, high) };
    }
    case 'bcc-log2': {
      if (slot === 0) return { slot, low: 0n, high: 0n, count, label: arrowLabel(0n, 0n) };
      const low = slot === 1 ? 0n : 1n << (s - 1n);
      const high = (1n << s) - 1n;
      return { slot, low, high, count, label: arrowLabel(low, high) };
    }
    case 'bpftrace-hist': {
      if (slot === 0) return { slot, low: null, high: -1n, count, label: '(..., 0)' };
      if (slot === 1) return { slot, low: 0n, high: 0n, count, label: '[0]' };
      if (slot === 2) return { slot, low: 1n, high: 1n, count, label: '[1]' };
      return { slot, low: 1n << (s - 2n), high: (1n << (s - 1n)) - 1n, count, label: `[${bpftracePowerLabel(slot - 2)}, ${bpftracePowerLabel(slot - 1)})` };
    }
    case 'linear':
      return { slot, low: s, high: s, count, label: String(slot) };
    default:
      throw histogramError(`unknown histogram layout ${JSON.stringify(layout)}: expected 'libbpf-log2', 'bcc-log2', 'bpftrace-hist', 'linear' or { kind: 'bpftrace-lhist', min, max, step }`);
  }
}

function checkLhist(layout: LhistLayout): LhistLayout {
  const { kind, min, max, step } = layout;
  if (kind !== 'bpftrace-lhist') throw histogramError(`unknown histogram layout kind ${JSON.stringify(kind)}: expected 'bpftrace-lhist'`);
  if (![min, max, step].every(Number.isSafeInteger) || step <= 0 || max <= min) {
    throw histogramError(`bpftrace-lhist needs integers min < max and step > 0, got min ${min}, max ${max}, step ${step}`);
  }
  return layout;
}

/** Checks a layout given by a caller (a typo is an error before any map is read). */
export function checkHistogramLayout(layout: HistogramLayout): HistogramLayout {
  histogramBucket(0, 0n, layout);
  return layout;
}

/**
 * A histogram from counts by slot: its buckets (first to last non-empty slot) and total.
 *
 * @example
 * histogramOf([0n, 3n, 1n], 'libbpf-log2').buckets
 * // [{ slot: 1, low: 2n, high: 3n, count: 3n, label: '2 -> 3' }, { slot: 2, low: 4n, high: 7n, count: 1n, label: '4 -> 7' }]
 */
export function histogramOf(
  counts: readonly bigint[],
  layout: HistogramLayout,
  key?: Readonly<Record<string, unknown>>,
  fields: Readonly<Record<string, unknown>> = {},
): Histogram {
  let first = -1;
  let last = -1;
  let total = 0n;
  counts.forEach((count, slot) => {
    if (count !== 0n) {
      if (first < 0) first = slot;
      last = slot;
      total += count;
    }
  });
  const buckets: HistogramBucket[] = [];
  if (first >= 0) for (let slot = first; slot <= last; slot++) buckets.push(histogramBucket(slot, counts[slot] ?? 0n, layout));
  return { key, fields, buckets, counts: counts.slice(0, last + 1), total };
}

// ----- reading maps --------------------------------------------------------------------------

/** Where one histogram's slots sit inside a value. */
interface SlotArray {
  /** Key fields this place adds (`{ hists: 3 }` for element 3 of a `hists` array). */
  readonly place: Readonly<Record<string, number>> | undefined;
  readonly offset: number;
  readonly elementSize: number;
  readonly length: number;
  /** Other members of the histogram struct, decoded at their offsets. */
  readonly fields: ReadonlyArray<{ readonly name: string; readonly offset: number; readonly decode: (bytes: Uint8Array, offset: number) => unknown }>;
}

function integerSize(btf: Btf, typeId: number): number | undefined {
  const type = btf.resolve(typeId);
  if (type.kind === 'int' && [1, 2, 4, 8].includes(type.size)) return type.size;
  return undefined;
}

/** The `slots` member of a libbpf-tools `struct hist`, as an array of integers. */
function slotsMember(btf: Btf, type: BtfType): { member: BtfMember; elementSize: number; length: number } | undefined {
  if (type.kind !== 'struct') return undefined;
  const member = type.members.find((m) => m.name === 'slots');
  if (member === undefined || member.bitOffset % 8 !== 0) return undefined;
  const array = btf.resolve(member.type);
  if (array.kind !== 'array') return undefined;
  const elementSize = integerSize(btf, array.type);
  return elementSize === undefined ? undefined : { member, elementSize, length: array.length };
}

/** A struct with `slots` at `offset`, as a slot array. */
function histStruct(btf: Btf, type: BtfType, offset: number, place: Record<string, number> | undefined): SlotArray | undefined {
  const slots = slotsMember(btf, type);
  if (slots === undefined || type.kind !== 'struct') return undefined;
  const fields = type.members
    .filter((m) => m !== slots.member && m.name !== '' && m.bitOffset % 8 === 0)
    .map((m) => {
      const codec = btfCodec(btf, m.type);
      return { name: m.name, offset: offset + m.bitOffset / 8, decode: (bytes: Uint8Array, at: number) => codec.decode(bytes, at) };
    });
  return { place, offset: offset + slots.member.bitOffset / 8, elementSize: slots.elementSize, length: slots.length, fields };
}

/** Histogram structs (or arrays of them) among the members of a struct or data section. */
function nestedHists(btf: Btf, members: ReadonlyArray<{ name: string; typeId: number; offset: number }>): SlotArray[] {
  const found: SlotArray[] = [];
  for (const { name, typeId, offset } of members) {
    const type = btf.resolve(typeId);
    const direct = histStruct(btf, type, offset, undefined);
    if (direct !== undefined) {
      found.push(direct);
      continue;
    }
    if (type.kind !== 'array') continue;
    const element = btf.resolve(type.type);
    const size = btf.size(type.type);
    for (let i = 0; i < type.length; i++) {
      const hist = histStruct(btf, element, offset + i * size, { [name]: i });
      if (hist === undefined) break;
      found.push(hist);
    }
  }
  return found;
}

/** Where a value type keeps histogram slots (libbpf-tools), or [] when it keeps none. */
function slotArraysOf(btf: Btf, valueTypeId: number): SlotArray[] {
  const type = btf.resolve(valueTypeId);
  const direct = histStruct(btf, type, 0, undefined);
  if (direct !== undefined) return [direct];
  if (type.kind === 'struct') {
    return nestedHists(btf, type.members.filter((m) => m.bitOffset % 8 === 0).map((m) => ({ name: m.name, typeId: m.type, offset: m.bitOffset / 8 })));
  }
  if (type.kind === 'datasec') {
    return nestedHists(btf, type.vars.map((v) => {
      const variable = btf.typeOfKind(v.type, 'var');
      return { name: variable.name, typeId: variable.type, offset: v.offset };
    }));
  }
  return [];
}

/** A little-endian unsigned integer of 1, 2, 4 or 8 bytes. */
function readUnsigned(view: DataView, offset: number, size: number): bigint {
  switch (size) {
    case 1: return BigInt(view.getUint8(offset));
    case 2: return BigInt(view.getUint16(offset, true));
    case 4: return BigInt(view.getUint32(offset, true));
    case 8: return view.getBigUint64(offset, true);
    default: throw histogramError(`an integer of ${size} bytes cannot be read as a slot or count (1, 2, 4 or 8 bytes)`);
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True for keys meaning "all": every byte 0 or every byte 0xff (-1). */
function isAllKey(bytes: Uint8Array, offset: number, size: number): boolean {
  let zeros = 0;
  let ones = 0;
  for (let i = 0; i < size; i++) {
    const byte = bytes[offset + i];
    if (byte === 0) zeros++;
    else if (byte === 0xff) ones++;
  }
  return zeros === size || ones === size;
}

/** Text of bpftrace key bytes without types: a string, an integer, or hex bytes. */
function bpftraceKeyText(bytes: Uint8Array): string | bigint {
  const nul = bytes.indexOf(0);
  const end = nul < 0 ? bytes.length : nul;
  const printable = end > 0 && bytes.subarray(0, end).every((b) => b >= 0x20 && b < 0x7f) && bytes.subarray(end).every((b) => b === 0);
  if (printable) return String.fromCharCode(...bytes.subarray(0, end));
  if ([1, 2, 4, 8].includes(bytes.length)) return readUnsigned(viewOf(bytes), 0, bytes.length);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Per-key accumulation: counts by slot, and the key and fields of the first entry. */
class Accumulator {
  readonly #byKey = new Map<string, { key: Record<string, unknown> | undefined; fields: Record<string, unknown>; counts: bigint[] }>();

  add(id: string, key: () => Record<string, unknown> | undefined, fields: () => Record<string, unknown>, slot: number, count: bigint): void {
    let entry = this.#byKey.get(id);
    if (entry === undefined) {
      entry = { key: key(), fields: fields(), counts: [] };
      this.#byKey.set(id, entry);
    }
    const counts = entry.counts;
    while (counts.length <= slot) counts.push(0n);
    counts[slot] = (counts[slot] ?? 0n) + count;
  }

  histograms(layout: HistogramLayout): Histogram[] {
    return [...this.#byKey.values()]
      .map(({ key, fields, counts }) => histogramOf(counts, layout, key, fields))
      .sort((a, b) => compareKeys(a.key, b.key));
  }
}

function compareValues(a: unknown, b: unknown): number {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a < b ? -1 : a > b ? 1 : 0;
  const x = typeof a === 'string' ? a : JSON.stringify(a, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  const y = typeof b === 'string' ? b : JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareKeys(a: Readonly<Record<string, unknown>> | undefined, b: Readonly<Record<string, unknown>> | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  for (const name of Object.keys(a)) {
    const order = compareValues(a[name], b[name]);
    if (order !== 0) return order;
  }
  return 0;
}

/** A stable identity for a key object (bigints included). */
function keyId(key: Readonly<Record<string, unknown>> | undefined): string {
  return key === undefined ? '' : JSON.stringify(key, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

function sectionFields(section: string | undefined): string[] {
  if (section === undefined) return [];
  const names = section.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw histogramError(`section '${section}': expected field names separated by commas`);
  return names;
}

interface MapShape {
  readonly cpus: number;
  readonly cpuStride: number;
}

function shapeOf(map: BpfMap): MapShape {
  const cpus = map.perCpu ? possibleCpus() : 1;
  return { cpus, cpuStride: map.perCpu ? map.valueBufferSize / cpus : map.valueSize };
}

/** libbpf-tools: the value holds `slots`. */
function readValueSlots(map: BpfMap, btf: Btf, slotArrays: readonly SlotArray[], layout: HistogramLayout, section: string | undefined): Histogram[] {
  const info = map.info;
  const keyCodec = info.btfKeyTypeId !== 0 ? btfCodec(btf, info.btfKeyTypeId) : undefined;
  const { cpus, cpuStride } = shapeOf(map);
  const names = sectionFields(section);
  // Several histograms in one value (an array of them, softirqs' `hists`): each is a section of
  // its own, named by `section` when given, else by the member's name.
  const several = slotArrays.length > 1;
  if (several && names.length > 1) throw histogramError(`section '${section}': the value holds an array of histograms; name its index with one word`);
  // A single key of -1/0 means "all" (runqlat, biolatency without -D): no key, unless asked.
  let entries = 0;
  let onlyKeyIsAll = false;
  for (const batch of map.batches()) {
    entries += batch.count;
    if (entries === 1) onlyKeyIsAll = isAllKey(batch.keys, 0, batch.keySize);
  }
  const keyIsAll = entries === 1 && onlyKeyIsAll;
  const keyNames = several ? [] : names;
  const decodeKey = (keys: Uint8Array, offset: number): Record<string, unknown> | undefined => {
    if (keyIsAll && (several || section === undefined)) return undefined;
    const decoded = keyCodec !== undefined ? keyCodec.decode(keys, offset) : readUnsigned(viewOf(keys), offset, map.keySize);
    if (typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded)) {
      const fields = decoded as Record<string, unknown>;
      if (keyNames.length === 0) return { ...fields };
      const kept: Record<string, unknown> = {};
      for (const name of keyNames) {
        if (!(name in fields)) throw histogramError(`section: the key has no field '${name}' (it has ${Object.keys(fields).join(', ')})`);
        kept[name] = fields[name];
      }
      return kept;
    }
    if (keyNames.length > 1) throw histogramError(`section '${section}': the key is not a struct, name it with one word`);
    return { [keyNames[0] ?? 'key']: decoded };
  };
  const accumulator = new Accumulator();
  for (const batch of map.batches()) {
    const values = viewOf(batch.values);
    for (let i = 0; i < batch.count; i++) {
      const valueOffset = i * batch.valueStride;
      const mapKey = decodeKey(batch.keys, i * batch.keySize);
      for (const slots of slotArrays) {
        let key = mapKey;
        if (several && slots.place !== undefined) {
          const [member, index] = Object.entries(slots.place)[0] as [string, number];
          key = { ...mapKey, [names[0] ?? member]: index };
        }
        const id = keyId(key);
        const fields = (): Record<string, unknown> => Object.fromEntries(slots.fields.map((f) => [f.name, f.decode(batch.values, valueOffset + f.offset)]));
        for (let slot = 0; slot < slots.length; slot++) {
          let count = 0n;
          for (let cpu = 0; cpu < cpus; cpu++) count += readUnsigned(values, valueOffset + cpu * cpuStride + slots.offset + slot * slots.elementSize, slots.elementSize);
          // Slot 0 is always added, so that a key with an empty histogram is listed too.
          if (count !== 0n || slot === 0) accumulator.add(id, () => key, fields, slot, count);
        }
      }
    }
  }
  return accumulator.histograms(layout);
}

/** bcc: the key is the slot, or a struct of section fields and the slot. */
function readKeySlot(map: BpfMap, btf: Btf | undefined, layout: HistogramLayout, section: string | undefined): Histogram[] {
  const info = map.info;
  const keyCodec = btf !== undefined && info.btfKeyTypeId !== 0 ? btfCodec(btf, info.btfKeyTypeId) : undefined;
  const valueCodec = btf !== undefined && info.btfValueTypeId !== 0 ? btfCodec(btf, info.btfValueTypeId) : undefined;
  const names = sectionFields(section);
  if (names.length > 0 && keyCodec === undefined) throw histogramError('a section needs a map whose key type is known from BTF (a struct with the section field and the slot)');
  const { cpus, cpuStride } = shapeOf(map);
  const toSlot = (value: unknown, what: string): number => {
    const slot = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : undefined;
    if (slot === undefined) throw histogramError(`${what} is not an integer slot: ${typeof value === 'object' ? JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) : String(value)}`);
    if (slot < 0n || slot >= BigInt(MAX_SLOTS)) throw histogramError(`${what} ${slot} is not a histogram slot (0 to ${MAX_SLOTS - 1}); is this map a histogram, or does it keep its slots in the value?`);
    return Number(slot);
  };
  const readKey = (keys: Uint8Array, offset: number): { key: Record<string, unknown> | undefined; slot: number } => {
    if (keyCodec === undefined) return { key: undefined, slot: toSlot(readUnsigned(viewOf(keys), offset, map.keySize), 'the key') };
    const decoded = keyCodec.decode(keys, offset);
    if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
      if (names.length > 0) throw histogramError(`section '${section}': the key is not a struct, it is the slot itself`);
      return { key: undefined, slot: toSlot(decoded, 'the key') };
    }
    const fields = decoded as Record<string, unknown>;
    const all = Object.keys(fields);
    if (names.length === 0) {
      throw histogramError(`the key is a struct (${all.join(', ')}): name the field(s) that split histograms as the section; the one left is the slot`);
    }
    const missing = names.filter((name) => !(name in fields));
    if (missing.length > 0) throw histogramError(`section: the key has no field '${missing[0]}' (it has ${all.join(', ')})`);
    const others = all.filter((name) => !names.includes(name));
    if (others.length !== 1) {
      throw histogramError(`section ${names.join(',')}: the key must have exactly one other field, the slot; ${others.length === 0 ? 'it has none' : `it has ${others.join(', ')}`}`);
    }
    const key: Record<string, unknown> = {};
    for (const name of names) key[name] = fields[name];
    return { key, slot: toSlot(fields[others[0] as string], `key field '${others[0]}'`) };
  };
  const readCount = (values: Uint8Array, offset: number): bigint => {
    if (valueCodec === undefined) return readUnsigned(viewOf(values), offset, map.valueSize);
    let value = valueCodec.decode(values, offset);
    // A struct of one counter counts too (`struct { __u64 count; }`).
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const members = Object.values(value as Record<string, unknown>);
      if (members.length === 1) value = members[0];
    }
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
    throw histogramError(`the value is not a count but ${typeof value === 'object' ? 'a struct' : typeof value}: does the map keep its histogram in the value (libbpf-tools' struct hist with a 'slots' member)?`);
  };
  const accumulator = new Accumulator();
  for (const batch of map.batches()) {
    for (let i = 0; i < batch.count; i++) {
      const { key, slot } = readKey(batch.keys, i * batch.keySize);
      let count = 0n;
      for (let cpu = 0; cpu < cpus; cpu++) count += readCount(batch.values, i * batch.valueStride + cpu * cpuStride);
      accumulator.add(keyId(key), () => key, () => ({}), slot, count);
    }
  }
  return accumulator.histograms(layout);
}

/** bpftrace: the key is the map's keys then a u64 slot. */
function readKeySuffix(map: BpfMap, layout: HistogramLayout): Histogram[] {
  if (map.keySize < 8 || map.valueSize !== 8) {
    throw histogramError(`a bpftrace histogram has keys ending with a u64 slot and 8-byte counts; this map has ${map.keySize}-byte keys and ${map.valueSize}-byte values`);
  }
  const { cpus, cpuStride } = shapeOf(map);
  const prefixSize = map.keySize - 8;
  const accumulator = new Accumulator();
  for (const batch of map.batches()) {
    const keys = viewOf(batch.keys);
    const values = viewOf(batch.values);
    for (let i = 0; i < batch.count; i++) {
      const keyOffset = i * batch.keySize;
      const rawSlot = keys.getBigUint64(keyOffset + prefixSize, true);
      if (rawSlot >= BigInt(MAX_SLOTS)) throw histogramError(`slot ${rawSlot} is not a histogram slot: is this map a bpftrace hist() or lhist()?`);
      let count = 0n;
      for (let cpu = 0; cpu < cpus; cpu++) count += values.getBigUint64(i * batch.valueStride + cpu * cpuStride, true);
      const prefix = batch.keys.slice(keyOffset, keyOffset + prefixSize);
      const id = Array.from(prefix).join(',');
      accumulator.add(id, () => (prefixSize === 0 ? undefined : { key: bpftraceKeyText(prefix) }), () => ({}), Number(rawSlot), count);
    }
  }
  return accumulator.histograms(layout);
}

/** True for maps that look like bpftrace's: `AT_name`, no BTF, a hash keyed by (keys, u64). */
function looksLikeBpftrace(map: BpfMap): boolean {
  const info = map.info;
  return info.name.startsWith('AT_') && info.btfId === 0 && map.keySize >= 8 && map.valueSize === 8 &&
    (map.type === MapType.hash || map.type === MapType.percpu_hash);
}

/**
 * Reads every histogram a map holds (see the module comment for the layouts and where counts
 * sit). Per-CPU counts are summed. Keys that only differ in fields left out of `section` are
 * added up.
 *
 * @throws RangeError with code `ERR_BPFMAP_HISTOGRAM` when the map does not hold histograms the
 *   way the layout and section say (a struct key without a section, a slot out of range, a value
 *   that is not a count).
 * @example
 * using hists = BpfMap.fromId(runqlatHistsId, { readOnly: true });
 * const { histograms } = readHistograms(hists);            // libbpf-tools: found from the BTF
 * histograms[0].buckets  // [{ slot: 0, low: 0n, high: 1n, count: 26n, label: '0 -> 1' }, ...]
 */
export function readHistograms(map: BpfMap, options: ReadHistogramsOptions = {}): MapHistograms {
  if (map.type === MapType.queue || map.type === MapType.stack || map.type === MapType.bloom_filter) {
    throw histogramError(`${map.typeName} maps have no keys, so no histogram slots`);
  }
  const requested = options.layout === undefined ? undefined : checkHistogramLayout(options.layout);
  const btf = loadMapBtf(map);
  const valueTypeId = map.info.btfValueTypeId;
  const slotArrays = btf !== undefined && valueTypeId !== 0 ? slotArraysOf(btf, valueTypeId) : [];
  const bpftrace = requested === undefined ? looksLikeBpftrace(map) : typeof requested === 'object' || requested === 'bpftrace-hist';
  if (bpftrace) {
    const layout = requested ?? 'bpftrace-hist';
    if (options.section !== undefined) throw histogramError("bpftrace histograms are split by the map's own keys: no section");
    return { layout, source: 'key-suffix', histograms: readKeySuffix(map, layout) };
  }
  if (slotArrays.length > 0 && btf !== undefined) {
    const layout = requested ?? 'libbpf-log2';
    return { layout, source: 'value-slots', histograms: readValueSlots(map, btf, slotArrays, layout, options.section) };
  }
  const layout = requested ?? 'bcc-log2';
  return { layout, source: 'key-slot', histograms: readKeySlot(map, btf, layout, options.section) };
}
