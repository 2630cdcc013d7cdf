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
import type { EntryFormatter } from './entries.js';
import { UsageError } from './grammar.js';

/** What a map's BTF gives the CLI. */
export interface MapTypes extends MapBtf {
  /** Decodes entries for `formatted`; undefined without a value type. */
  readonly formatter: EntryFormatter | undefined;
  /** Encodes JSON keys; undefined without a key type. */
  readonly keyCodec: Codec<unknown> | undefined;
  /** Encodes JSON values (one CPU's value); undefined without a value type. */
  readonly valueCodec: Codec<unknown> | undefined;
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

/** The map's BTF types, or undefined when it has none (or a struct_ops kernel value type). */
export async function mapTypesOf(map: BpfMap): Promise<MapTypes | undefined> {
  const mapBtf = await mapBtfOf(map);
  if (mapBtf === undefined) return undefined;
  const [{ btfCodec }, { formatBtfValue }] = await Promise.all([import('../codec/btf/codec.js'), import('../codec/btf/format.js')]);
  const { btf, keyTypeId, valueTypeId } = mapBtf;
  const formatter: EntryFormatter | undefined = valueTypeId === 0 ? undefined : {
    // bpftool leaves the key out of `formatted` when the map has no BTF key type (.data maps).
    ...(keyTypeId !== 0 ? { key: (bytes: Uint8Array, offset: number) => formatBtfValue(btf, keyTypeId, bytes, offset) } : {}),
    value: (bytes, offset) => formatBtfValue(btf, valueTypeId, bytes, offset),
  };
  return {
    btf,
    keyTypeId,
    valueTypeId,
    formatter,
    keyCodec: keyTypeId === 0 ? undefined : btfCodec(btf, keyTypeId),
    valueCodec: valueTypeId === 0 ? undefined : btfCodec(btf, valueTypeId),
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
