/**
 * A map's types, from its BTF: the `formatted` output of dump/lookup (bpftool's rules, from
 * the BTF module) and the codecs that turn JSON keys and values typed on the command line into
 * bytes. Maps without BTF have neither and print raw.
 */
import type { BpfMap } from '../map/bpf-map.js';
import type { Btf } from '../codec/btf/btf.js';
import { btfCodec } from '../codec/btf/codec.js';
import { formatBtfValue } from '../codec/btf/format.js';
import { btfFromId } from '../codec/btf/sources.js';
import type { Codec } from '../codec/codec.js';
import type { EntryFormatter } from './entries.js';

/** The BTF of a map and its key and value type ids (0 when the map lacks one of them). */
export interface MapTypes {
  readonly btf: Btf;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/** The map's BTF types, or undefined when it has none (or a struct_ops kernel value type). */
export function mapTypesOf(map: BpfMap): MapTypes | undefined {
  const info = map.info;
  if (info.btfId === 0 || info.btfVmlinuxValueTypeId !== 0) return undefined;
  if (info.btfKeyTypeId === 0 && info.btfValueTypeId === 0) return undefined;
  return { btf: btfFromId(info.btfId).btf, keyTypeId: info.btfKeyTypeId, valueTypeId: info.btfValueTypeId };
}

/** The formatter of a map's entries, or undefined when the map has no BTF value type. */
export function formatterOf(map: BpfMap, types: MapTypes | undefined = mapTypesOf(map)): EntryFormatter | undefined {
  if (types === undefined || types.valueTypeId === 0) return undefined;
  const { btf, keyTypeId, valueTypeId } = types;
  return {
    // bpftool leaves the key out of `formatted` when the map has no BTF key type (.data maps).
    ...(keyTypeId !== 0 ? { key: (bytes: Uint8Array, offset: number) => formatBtfValue(btf, keyTypeId, bytes, offset) } : {}),
    value: (bytes, offset) => formatBtfValue(btf, valueTypeId, bytes, offset),
  };
}

/** The codec of the key or value type, for JSON input; undefined without BTF for it. */
export function inputCodecOf(types: MapTypes | undefined, part: 'key' | 'value'): Codec<unknown> | undefined {
  if (types === undefined) return undefined;
  const typeId = part === 'key' ? types.keyTypeId : types.valueTypeId;
  return typeId === 0 ? undefined : btfCodec(types.btf, typeId);
}
