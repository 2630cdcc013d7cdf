/**
 * A map's types, from its BTF: the `formatted` output of dump/lookup (bpftool's rules, from
 * the BTF module) and the codecs that turn JSON keys and values typed on the command line into
 * bytes. Maps without BTF have neither and print raw.
 *
 * The BTF modules load only for maps that have BTF, which keeps the start of every other
 * command (and of the raw `dump` fast path) short.
 */
import type { BpfMap } from '../map/bpf-map.js';
import type { Btf } from '../codec/btf/btf.js';
import type { Codec } from '../codec/codec.js';
import type { FieldFormatOptions, FormatPlan } from '../codec/btf/field-format.js';
import type { EntryFormatter } from './entries.js';
import { UsageError, type CommandOptions } from './grammar.js';

/** What a map's BTF gives the CLI. */
export interface MapTypes extends MapBtf {
  /** Decodes entries for `formatted`; undefined without a value type. */
  readonly formatter: EntryFormatter | undefined;
  /** Encodes JSON keys; undefined without a key type. */
  readonly keyCodec: Codec<unknown> | undefined;
  /** Encodes JSON values (one CPU's value); undefined without a value type. */
  readonly valueCodec: Codec<unknown> | undefined;
  /** Which parts of the value `--format`/`--net` show otherwise (undefined: none). */
  readonly valuePlan: FormatPlan | undefined;
}

/**
 * `--format FIELD=FORMAT[,...]` and `--net`, as the library's field format options, or undefined
 * when neither was given. A malformed rule is a usage error naming it and the formats there are.
 */
export async function fieldFormatOptionOf(options: CommandOptions): Promise<FieldFormatOptions | undefined> {
  const text = options.value('format');
  const net = options.flag('net');
  if (text === undefined && !net) return undefined;
  const { parseFieldFormats } = await import('../codec/btf/field-format.js');
  try {
    return { ...(text !== undefined ? { fields: parseFieldFormats(text) } : {}), net };
  } catch (error) {
    throw new UsageError(`--format: ${(error as Error).message}`);
  }
}

/** Runs `plan` (which compiles field formats), turning a bad rule into a usage error. */
export function planOrUsageError<T>(plan: () => T): T {
  try {
    return plan();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BPFMAP_FIELD_FORMAT') throw new UsageError(`--format: ${(error as Error).message}`);
    throw error;
  }
}

/** The usage error for `--format`/`--net` on a map without BTF. */
export function noBtfForFormat(label: string): UsageError {
  return new UsageError(`--format/--net: ${label} has no BTF types, so it has no fields to format`);
}

/** A map's BTF and the ids of its key and value types in it (0 for a type it lacks). */
export interface MapBtf {
  readonly btf: Btf;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/**
 * The map's own BTF, or undefined when it has none. With `requireTypes` (the default), a map whose
 * BTF names neither a key nor a value type (ring buffers, perf event arrays) or whose value type
 * lives in the kernel's BTF (struct_ops) counts as having none.
 */
export async function mapBtfOf(map: BpfMap, options: { requireTypes?: boolean } = {}): Promise<MapBtf | undefined> {
  const info = map.info;
  if (info.btfId === 0) return undefined;
  if (options.requireTypes ?? true) {
    if (info.btfVmlinuxValueTypeId !== 0) return undefined;
    if (info.btfKeyTypeId === 0 && info.btfValueTypeId === 0) return undefined;
  }
  const { btfFromId } = await import('../codec/btf/sources.js');
  return { btf: btfFromId(info.btfId).btf, keyTypeId: info.btfKeyTypeId, valueTypeId: info.btfValueTypeId };
}

/**
 * The map's BTF types, or undefined when it has none (or a struct_ops kernel value type). With
 * `format` (from `--format`/`--net`), the formatter shows the fields it names otherwise; a rule
 * that fits no field, or a map without BTF, is a usage error.
 */
export async function mapTypesOf(map: BpfMap, format?: FieldFormatOptions): Promise<MapTypes | undefined> {
  const mapBtf = await mapBtfOf(map);
  if (mapBtf === undefined) {
    if (format !== undefined) throw noBtfForFormat(`map ${map.name === '' ? `id ${map.id}` : `'${map.name}'`}`);
    return undefined;
  }
  const [{ btfCodec }, { formatWithPlan, planEntryFormats }] = await Promise.all([import('../codec/btf/codec.js'), import('../codec/btf/format.js')]);
  const { btf, keyTypeId, valueTypeId } = mapBtf;
  const [keyPlan, valuePlan] = format === undefined ? [undefined, undefined] : planOrUsageError(() => planEntryFormats(btf, keyTypeId, valueTypeId, format));
  const formatter: EntryFormatter | undefined = valueTypeId === 0 ? undefined : {
    // bpftool leaves the key out of `formatted` when the map has no BTF key type (.data maps).
    ...(keyTypeId !== 0 ? { key: (bytes: Uint8Array, offset: number) => formatWithPlan(btf, keyTypeId, bytes, offset, keyPlan) } : {}),
    value: (bytes, offset) => formatWithPlan(btf, valueTypeId, bytes, offset, valuePlan),
  };
  // The codecs are built on first use: a dump or a lookup prints through the formatter and never
  // encodes JSON, so it should not pay for compiling them.
  const keyCodec = once(() => (keyTypeId === 0 ? undefined : btfCodec(btf, keyTypeId)));
  const valueCodec = once(() => (valueTypeId === 0 ? undefined : btfCodec(btf, valueTypeId)));
  return {
    btf,
    keyTypeId,
    valueTypeId,
    formatter,
    get keyCodec() {
      return keyCodec();
    },
    get valueCodec() {
      return valueCodec();
    },
    valuePlan,
  };
}

/** `make`, called on the first call only; later calls return its result. */
function once<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}

/**
 * The id of the type a C name names in `btf`: `struct event`, `union u`, `enum e`, or a bare name
 * (a typedef, an int, or else a struct, union or enum of that name). Forward declarations are
 * skipped: they have no layout. Throws a `UsageError` naming what was looked for.
 */
export function typeIdByName(btf: Btf, text: string): number {
  const id = findTypeId(btf, text);
  if (id === undefined) throw new UsageError(`--type: no type '${text.trim()}' in the BTF`);
  return id;
}

/** Like `typeIdByName`, but undefined when the BTF has no such type. */
export function findTypeId(btf: Btf, text: string): number | undefined {
  const match = /^\s*(?:(struct|union|enum)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(text);
  if (match === null) throw new UsageError(`--type: '${text}' is not a C type name (like 'struct event' or 'u64')`);
  const [, keyword, name = ''] = match;
  const candidates = btf.typesByName(name).filter((type) => type.kind !== 'fwd');
  const kinds = keyword === 'enum' ? ['enum', 'enum64'] : keyword !== undefined ? [keyword] : ['typedef', 'int', 'float', 'struct', 'union', 'enum', 'enum64'];
  for (const kind of kinds) {
    const found = candidates.find((type) => type.kind === kind);
    if (found !== undefined) return found.id;
  }
  return undefined;
}
