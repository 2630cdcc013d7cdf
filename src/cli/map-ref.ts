/**
 * Opening the map a `MAP` argument names, with messages that say what was wrong
 * (`no map pinned at PATH`, `no map with id N`, `several maps are named X`).
 */
import { BpfMap } from '../map/bpf-map.js';
import { OperationError, type MapRef } from './grammar.js';

/** Ids of the maps a reference selects (a name may select several). */
export function mapIdsOf(ref: MapRef): number[] {
  switch (ref.kind) {
    case 'id':
      return [ref.id];
    case 'pinned': {
      using map = openMap(ref, { readOnly: true });
      return [map.id];
    }
    case 'name': {
      const ids = BpfMap.idsByName(ref.name);
      if (ids.length === 0) throw new OperationError(`no map named '${ref.name}'`);
      return ids;
    }
  }
}

/** How messages name a map: its name, or `map ID` when it has none. */
export function mapLabel(map: { readonly name: string; readonly id: number }): string {
  return map.name || `map ${map.id}`;
}

/**
 * Opens the one map a reference names. Read commands pass `readOnly` so that frozen and
 * read-only pinned maps open too.
 */
export function openMap(ref: MapRef, options: { readOnly?: boolean } = {}): BpfMap {
  const readOnly = options.readOnly ?? false;
  switch (ref.kind) {
    case 'id':
      return BpfMap.fromId(ref.id, { readOnly });
    case 'pinned':
      return BpfMap.openPinned(ref.path, { readOnly });
    case 'name': {
      const ids = mapIdsOf(ref);
      if (ids.length > 1) throw new OperationError(`several maps are named '${ref.name}' (ids ${ids.join(', ')}): use 'id N' or 'pinned PATH'`);
      return BpfMap.fromId(ids[0] as number, { readOnly });
    }
  }
}
