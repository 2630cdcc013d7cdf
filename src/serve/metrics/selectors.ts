/**
 * Which maps a scrape reads. Selectors by name and by pin are resolved again at every scrape, so
 * maps that programs recreate on reload are followed; a selector by id keeps naming the map it
 * first found, and a different map behind the same id (ids wrap around) is an error, not a silent
 * switch.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../map/bpf-map.js';
import type { MapInfo } from '../../map/info.js';
import { BpfError } from '../../sys/errors.js';
import type { MapSelector } from './ebpf-config.js';

/** A selector of the exporter: one of the CLI's `MAP` forms, or every map. */
export type ExportSelector = MapSelector | { readonly kind: 'all' };

/** How messages and the read-error self-metric name a selector. */
export function describeSelector(selector: ExportSelector): string {
  switch (selector.kind) {
    case 'all': return 'all';
    case 'id': return `id ${selector.id}`;
    case 'pinned': return `pinned ${selector.path}`;
    case 'name': return `name ${selector.name}`;
  }
}

/** A selector that found nothing or failed: reported, never fatal to the scrape. */
export interface SelectionError {
  readonly selector: string;
  readonly error: Error;
}

/** What a resolution found: open read-only maps (the caller closes them) and the failures. */
export interface Selection {
  readonly maps: BpfMap[];
  readonly errors: SelectionError[];
}

function identityOf(info: MapInfo): string {
  return `${info.typeName}/${info.name}/${info.keySize}/${info.valueSize}/${info.maxEntries}`;
}

function pinnedFiles(root: string, into: string[], depth = 0): void {
  const stat = statSync(root);
  if (!stat.isDirectory()) {
    into.push(root);
    return;
  }
  if (depth > 16) return;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) pinnedFiles(full, into, depth + 1);
    else into.push(full);
  }
}

/** Resolves selectors, remembering what each id named the first time. */
export class MapResolver {
  /** Identity (type, name, sizes) of the map an id selector first found. */
  readonly #identities = new Map<number, string>();

  constructor(readonly selectors: readonly ExportSelector[]) {}

  /** Opens the maps the selectors name now, each once. */
  resolve(): Selection {
    const maps: BpfMap[] = [];
    const errors: SelectionError[] = [];
    const seen = new Set<number>();
    const add = (map: BpfMap): void => {
      if (seen.has(map.id)) map.close();
      else {
        seen.add(map.id);
        maps.push(map);
      }
    };
    for (const selector of this.selectors) {
      const label = describeSelector(selector);
      try {
        switch (selector.kind) {
          case 'all':
            for (const id of BpfMap.ids()) {
              if (seen.has(id)) continue;
              try {
                add(BpfMap.fromId(id, { readOnly: true }));
              } catch (error) {
                if (!(error instanceof BpfError && error.code === 'ENOENT')) throw error;
              }
            }
            break;
          case 'id': {
            const map = BpfMap.fromId(selector.id, { readOnly: true });
            const identity = identityOf(map.info);
            const first = this.#identities.get(selector.id);
            if (first === undefined) this.#identities.set(selector.id, identity);
            else if (first !== identity) {
              map.close();
              throw new BpfError(`map id ${selector.id} now names another map (${identity}, was ${first})`, { code: 'ERR_BPFMAP_ID_REUSED', errno: 0, command: 'MAP_GET_FD_BY_ID', subject: { id: selector.id } });
            }
            add(map);
            break;
          }
          case 'pinned': {
            const files: string[] = [];
            pinnedFiles(selector.path, files);
            let found = 0;
            for (const file of files) {
              try {
                add(BpfMap.openPinned(file, { readOnly: true }));
                found++;
              } catch (error) {
                // A folder may hold pinned programs and links too: only maps count.
                if (files.length === 1) throw error;
              }
            }
            if (found === 0) throw new Error(`no map pinned under ${selector.path}`);
            break;
          }
          case 'name': {
            let found = 0;
            for (const info of BpfMap.list()) {
              if (info.name !== selector.name || seen.has(info.id)) continue;
              try {
                add(BpfMap.fromId(info.id, { readOnly: true }));
                found++;
              } catch (error) {
                if (!(error instanceof BpfError && error.code === 'ENOENT')) throw error;
              }
            }
            if (found === 0 && !maps.some((map) => map.name === selector.name)) throw new Error(`no map named '${selector.name}'`);
            break;
          }
        }
      } catch (error) {
        errors.push({ selector: label, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
    return { maps, errors };
  }
}
