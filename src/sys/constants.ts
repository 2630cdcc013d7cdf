/**
 * Kernel constants: map types, map flags, element flags, file flags.
 * Names follow bpftool's spelling so that the CLI and the library speak the same words.
 */

/** BPF map types (enum bpf_map_type). */
export enum MapType {
  hash = 1,
  array = 2,
  prog_array = 3,
  perf_event_array = 4,
  percpu_hash = 5,
  percpu_array = 6,
  stack_trace = 7,
  cgroup_array = 8,
  lru_hash = 9,
  lru_percpu_hash = 10,
  lpm_trie = 11,
  array_of_maps = 12,
  hash_of_maps = 13,
  devmap = 14,
  sockmap = 15,
  cpumap = 16,
  xskmap = 17,
  sockhash = 18,
  cgroup_storage = 19,
  reuseport_sockarray = 20,
  percpu_cgroup_storage = 21,
  queue = 22,
  stack = 23,
  sk_storage = 24,
  devmap_hash = 25,
  struct_ops = 26,
  ringbuf = 27,
  inode_storage = 28,
  task_storage = 29,
  bloom_filter = 30,
  user_ringbuf = 31,
  cgrp_storage = 32,
  arena = 33,
}

/** A map type's bpftool name (`'percpu_hash'`). */
export type MapTypeName = keyof typeof MapType;

/** bpftool's name for a map type number; unknown numbers print as the number itself. */
export function mapTypeName(type: number): MapTypeName | `${number}` {
  const name = (MapType as unknown as Record<number, MapTypeName | undefined>)[type];
  return name ?? `${type}`;
}

/**
 * Resolves a map type given as a bpftool name, a `MapType` value or a number.
 * @throws TypeError for an unknown name.
 */
export function resolveMapType(type: MapTypeName | MapType | number | string): number {
  if (typeof type === 'number') {
    if (!Number.isInteger(type) || type <= 0 || type > 0xffffffff) {
      throw specError(RangeError, `map type must be a positive 32-bit integer (0 is BPF_MAP_TYPE_UNSPEC, which no map has), got ${type}`);
    }
    return type;
  }
  const value = typeof type === 'string' && Object.hasOwn(MapType, type) ? (MapType as unknown as Record<string, unknown>)[type] : undefined;
  if (typeof value !== 'number') {
    const known = Object.keys(MapType).filter((k) => Number.isNaN(Number(k)));
    throw specError(TypeError, `unknown map type ${typeof type === 'string' ? `'${type}'` : `(a ${type === null ? 'null' : typeof type})`}: expected one of ${known.join(', ')} or a number`);
  }
  return value;
}

/**
 * A spec error with code ERR_BPFMAP_SPEC. Built here rather than with errors.ts's helper, which
 * imports this module at load time.
 */
function specError<E extends TypeErrorConstructor | RangeErrorConstructor>(kind: E, message: string): InstanceType<E> {
  return Object.assign(new kind(message), { code: 'ERR_BPFMAP_SPEC' }) as InstanceType<E>;
}

/** The names of the kernel map types this package knows, in the kernel's order. */
export function mapTypeNames(): string[] {
  return Object.keys(MapType).filter((name) => Number.isNaN(Number(name)));
}

/** Map types whose values are one slot per possible CPU. */
export function isPerCpuType(type: number): boolean {
  return (
    type === MapType.percpu_hash ||
    type === MapType.percpu_array ||
    type === MapType.lru_percpu_hash ||
    type === MapType.percpu_cgroup_storage
  );
}

/** Map types whose elements have no key: queue, stack, bloom_filter. */
export function isKeylessType(type: number): boolean {
  return type === MapType.queue || type === MapType.stack || type === MapType.bloom_filter;
}

/** Map types whose values are fds on update and ids on lookup. */
export function holdsFdsType(type: number): boolean {
  return type === MapType.array_of_maps || type === MapType.hash_of_maps || type === MapType.prog_array;
}

/** Map types that support the *_BATCH commands. */
export function supportsBatchType(type: number): boolean {
  return (
    type === MapType.hash ||
    type === MapType.array ||
    type === MapType.percpu_hash ||
    type === MapType.percpu_array ||
    type === MapType.lru_hash ||
    type === MapType.lru_percpu_hash
  );
}

/** Map creation flags (BPF_F_*). */
export const MapFlags = {
  NO_PREALLOC: 0x1,
  NO_COMMON_LRU: 0x2,
  NUMA_NODE: 0x4,
  RDONLY: 0x8,
  WRONLY: 0x10,
  STACK_BUILD_ID: 0x20,
  ZERO_SEED: 0x40,
  RDONLY_PROG: 0x80,
  WRONLY_PROG: 0x100,
  CLONE: 0x200,
  MMAPABLE: 0x400,
  PRESERVE_ELEMS: 0x800,
  INNER_MAP: 0x1000,
  /** struct_ops maps registered through a bpf_link (`SEC(".struct_ops.link")`). */
  LINK: 0x2000,
} as const;

/** Element update flags. */
export const UpdateFlags = {
  any: 0,
  noexist: 1,
  exist: 2,
  lock: 4,
} as const;

/** How an update treats an existing key: bpftool's words, or a raw flags number. */
export type UpdateFlag = keyof typeof UpdateFlags;

/** File flags for OBJ_GET and GET_FD_BY_ID. */
export const FileFlags = {
  RDONLY: 0x8,
  WRONLY: 0x10,
} as const;

/** ENOTSUPP, the kernel-internal errno 524 that bpf(2) leaks to user space. */
export const ENOTSUPP = 524;
