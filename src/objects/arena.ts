/**
 * Arena maps (BPF_MAP_TYPE_ARENA, Linux 6.9+): memory shared between BPF programs and user space,
 * `max_entries` pages, allocated by programs with `bpf_arena_alloc_pages`. As libbpf does, the
 * loader maps an arena into the process right after creating it, before any program is loaded:
 * the first mapping fixes the arena's user address range, which pointers a program hands out
 * refer to. `arenaMemory(map)` returns that memory.
 *
 * Toolchain: arena programs written with `__arena` pointers and globals need clang 18+, which
 * emits the address-space casts (`addr_space_cast`) and puts `__arena` globals in
 * `.addr_space.1`; clang 14 accepts `__attribute__((address_space(1)))` but emits neither. Such a
 * clang can still use an arena through the kfuncs (`bpf_arena_alloc_pages` returns the page's
 * address), and a `.addr_space.1` section is refused with a clear error.
 */
import { native, nativeObject, type NativeMapping } from '../sys/native.js';
import { BpfError, errnoName } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import type { BpfMap } from '../map/bpf-map.js';
import { argumentError } from '../sys/errors.js';

const PAGE_SIZE = 4096;
/** One mapping per arena map, kept for the map's life (the arena's user range is fixed by it). */
const mappings = new WeakMap<BpfMap<unknown, unknown>, NativeMapping>();

/**
 * @internal Maps an arena map (all of it, read-write, shared) if it is not yet; the loader does
 * this right after creating one.
 */
export function mapArena(map: BpfMap<unknown, unknown>): NativeMapping {
  const known = mappings.get(map);
  if (known) return known;
  const info = map.info;
  if (info.type !== MapType.arena) throw argumentError(TypeError, 'ERR_BPFMAP_MAP_TYPE', `arenaMemory takes an arena map; '${info.name}' is of type ${info.type}`);
  const mapping = native.mmap(map[nativeObject], info.maxEntries * PAGE_SIZE, true, 0);
  if (typeof mapping === 'number') {
    throw new BpfError(`cannot map arena '${info.name}' (${info.maxEntries} pages): mmap failed with ${errnoName(-mapping)}`, { code: errnoName(-mapping), errno: -mapping });
  }
  mappings.set(map, mapping);
  return mapping;
}

/**
 * The memory of an arena map, shared with the BPF programs: page N of the arena is bytes
 * N*4096 to (N+1)*4096. Pages no program allocated read as zeros (reading allocates them,
 * unless the arena was made with BPF_F_SEGV_ON_FAULT).
 *
 * @example
 * const memory = new DataView(arenaMemory(object.map('arena')));
 * memory.getBigUint64(0, true);   // what the program wrote to its first page
 */
export function arenaMemory(map: BpfMap<unknown, unknown>): ArrayBuffer {
  return mapArena(map).buffer;
}
