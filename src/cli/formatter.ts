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

/** What a map's BTF gives the CLI. */
export interface MapTypes {
  readonly btf: Btf;
  /** BTF type id of the key, 0 when the map has none. */
  readonly keyTypeId: number;
  /** BTF type id of the value, 0 when the map has none. */
  readonly valueTypeId: number;
  /** Decodes entries for `formatted`; undefined without a value type. */
  readonly formatter: EntryFormatter | undefined;
  /** Encodes JSON keys; undefined without a key type. */
  readonly keyCodec: Codec<unknown> | undefined;
  /** Encodes JSON values (one CPU's value); undefined without a value type. */
  readonly valueCodec: Codec<unknown> | undefined;
}

/** The map's BTF types, or undefined when it has none (or a struct_ops kernel value type). */
export async function mapTypesOf(map: BpfMap): Promise<MapTypes | undefined> {
  const info = map.info;
  if (info.btfId === 0 || info.btfVmlinuxValueTypeId !== 0) return undefined;
  if (info.btfKeyTypeId === 0 && info.btfValueTypeId === 0) return undefined;
  const [{ btfFromId }, { btfCodec }, { formatBtfValue }] = await Promise.all([
    import('../codec/btf/sources.js'),
    import('../codec/btf/codec.js'),
    import('../codec/btf/format.js'),
  ]);
  const btf = btfFromId(info.btfId).btf;
  const keyTypeId = info.btfKeyTypeId;
  const valueTypeId = info.btfValueTypeId;
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
