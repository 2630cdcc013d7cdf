/**
 * The MAP_CREATE checks of an in-memory map: the spec goes through the same argument checks as
 * `BpfMap.create` (`encodeMapSpec`), then through the kernel's own checks for the map type
 * (`*_map_alloc_check`), which give the same `BpfError` (EINVAL, E2BIG, ENOTSUPP) the kernel
 * would.
 */
import { BpfError, Errno, argumentError } from '../sys/errors.js';
import { MapFlags, MapType, isPerCpuType, mapTypeName } from '../sys/constants.js';
import { possibleCpusFromSysfs } from '../sys/cpu-list.js';
import { roundUp8 } from '../sys/layout.js';
import { show } from '../codec/codec.js';
import { encodeMapSpec, resolveFlags, type MapSpec } from './spec.js';

/** The map types `MemoryMap` models. */
export const MEMORY_MAP_TYPES: readonly number[] = [
  MapType.hash, MapType.array, MapType.percpu_hash, MapType.percpu_array, MapType.lru_hash, MapType.lru_percpu_hash,
  MapType.queue, MapType.stack, MapType.bloom_filter,
];

/** A checked memory map spec. */
export interface MemoryShape {
  readonly type: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  /** Possible CPUs (per-CPU maps), 1 otherwise. */
  readonly cpus: number;
  /** Bytes of one whole value as user space sees it (per-CPU: roundup(valueSize, 8) * cpus). */
  readonly valueStride: number;
}

/** The kernel's limit on per-CPU values: PCPU_MIN_UNIT_SIZE. */
const MAX_PERCPU_VALUE = 32768;
/** KMALLOC_MAX_SIZE on x86-64 and arm64 (4 KiB pages): 1 << (PAGE_SHIFT + MAX_PAGE_ORDER). */
const KMALLOC_MAX_SIZE = 1 << 22;
const ACCESS_MASK = MapFlags.RDONLY | MapFlags.WRONLY | MapFlags.RDONLY_PROG | MapFlags.WRONLY_PROG;
const HASH_FLAGS = MapFlags.NO_PREALLOC | MapFlags.NO_COMMON_LRU | MapFlags.NUMA_NODE | ACCESS_MASK | MapFlags.ZERO_SEED;
const ARRAY_FLAGS = MapFlags.NUMA_NODE | MapFlags.MMAPABLE | ACCESS_MASK | MapFlags.PRESERVE_ELEMS | MapFlags.INNER_MAP;
const QUEUE_FLAGS = MapFlags.NUMA_NODE | ACCESS_MASK;
const BLOOM_FLAGS = MapFlags.NUMA_NODE | MapFlags.ZERO_SEED | ACCESS_MASK;

/** Checks a possible-CPU count given as an option. */
function cpuCount(given: unknown): number {
  if (given === undefined) return possibleCpusFromSysfs();
  if (typeof given !== 'number' || !Number.isInteger(given) || given < 1 || given > 8192) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `possibleCpus must be an integer from 1 to 8192, got ${show(given)}`);
  }
  return given;
}

/**
 * Checks `spec` as `BpfMap.create` and the kernel would, for a map kept in memory.
 * @throws TypeError/RangeError for a malformed spec (the same as `BpfMap.create`), or
 *   `ERR_BPFMAP_MEMORY_UNSUPPORTED` for a map type or option that has no in-memory model.
 * @throws BpfError (MAP_CREATE) with the errno the kernel gives for this spec.
 */
export function memoryShape(spec: MapSpec, possibleCpus: unknown): MemoryShape {
  const { type, name } = encodeMapSpec(spec);
  if (!MEMORY_MAP_TYPES.includes(type)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_MEMORY_UNSUPPORTED',
      `MemoryMap does not model ${mapTypeName(type)} maps: it has ${MEMORY_MAP_TYPES.map(mapTypeName).join(', ')}`);
  }
  if (spec.btf !== undefined || spec.innerMap !== undefined) {
    throw argumentError(TypeError, 'ERR_BPFMAP_MEMORY_UNSUPPORTED',
      `MemoryMap takes no ${spec.btf !== undefined ? 'btf fd (give a Btf and types with MemoryMap.createWithBtf)' : 'innerMap'}: it has no kernel objects`);
  }
  const sizes = spec as { keySize?: number; valueSize?: number };
  const keySize = sizes.keySize ?? 0;
  const valueSize = sizes.valueSize ?? 0;
  const { maxEntries } = spec;
  let flags = resolveFlags(spec.flags);
  if (spec.mmapable) flags |= MapFlags.MMAPABLE;
  if (spec.numaNode !== undefined) flags |= MapFlags.NUMA_NODE;
  flags >>>= 0;
  const mapExtra = spec.mapExtra === undefined ? 0n : BigInt(spec.mapExtra);
  const perCpu = isPerCpuType(type);
  const cpus = perCpu ? cpuCount(possibleCpus) : 1;
  const refuse = (errno: number, why: string): never => {
    throw BpfError.withReason('MAP_CREATE', errno, why, name ? { name } : undefined);
  };
  if (mapExtra !== 0n && type !== MapType.bloom_filter) refuse(Errno.EINVAL, 'mapExtra is only for bloom_filter maps');
  if ((flags & MapFlags.RDONLY) !== 0 && (flags & MapFlags.WRONLY) !== 0) refuse(Errno.EINVAL, 'flags RDONLY and WRONLY exclude each other');
  if ((flags & MapFlags.RDONLY_PROG) !== 0 && (flags & MapFlags.WRONLY_PROG) !== 0) refuse(Errno.EINVAL, 'flags RDONLY_PROG and WRONLY_PROG exclude each other');
  const typeName = mapTypeName(type);
  switch (type) {
    case MapType.hash:
    case MapType.percpu_hash:
    case MapType.lru_hash:
    case MapType.lru_percpu_hash: {
      const lru = type === MapType.lru_hash || type === MapType.lru_percpu_hash;
      if ((flags & ~HASH_FLAGS) !== 0) refuse(Errno.EINVAL, `flags 0x${flags.toString(16)} include flags ${typeName} maps do not take`);
      if (lru && (flags & MapFlags.NO_PREALLOC) !== 0) refuse(Errno.ENOTSUPP, 'LRU maps are always preallocated: no NO_PREALLOC');
      if (!lru && (flags & MapFlags.NO_COMMON_LRU) !== 0) refuse(Errno.EINVAL, 'NO_COMMON_LRU is only for LRU maps');
      if (maxEntries === 0 || keySize === 0 || valueSize === 0) refuse(Errno.EINVAL, `${typeName} needs maxEntries, keySize and valueSize above 0`);
      if (perCpu && valueSize > MAX_PERCPU_VALUE) refuse(Errno.E2BIG, `per-CPU values of ${valueSize} bytes are more than ${MAX_PERCPU_VALUE}`);
      if (valueSize >= KMALLOC_MAX_SIZE) refuse(Errno.E2BIG, `values of ${valueSize} bytes are too big`);
      break;
    }
    case MapType.array:
    case MapType.percpu_array:
      if (maxEntries === 0 || keySize !== 4 || valueSize === 0 || (flags & ~ARRAY_FLAGS) !== 0 ||
          (perCpu && (flags & MapFlags.MMAPABLE) !== 0)) {
        refuse(Errno.EINVAL, `${typeName} needs keySize 4, valueSize and maxEntries above 0, and only array flags`);
      }
      if (perCpu && valueSize > MAX_PERCPU_VALUE) refuse(Errno.E2BIG, `per-CPU values of ${valueSize} bytes are more than ${MAX_PERCPU_VALUE}`);
      if (valueSize > KMALLOC_MAX_SIZE) refuse(Errno.E2BIG, `values of ${valueSize} bytes are too big`);
      break;
    case MapType.queue:
    case MapType.stack:
      if (maxEntries === 0 || keySize !== 0 || valueSize === 0 || (flags & ~QUEUE_FLAGS) !== 0) {
        refuse(Errno.EINVAL, `${typeName} needs keySize 0, valueSize and maxEntries above 0, and only NUMA_NODE or access flags`);
      }
      if (valueSize > KMALLOC_MAX_SIZE) refuse(Errno.E2BIG, `values of ${valueSize} bytes are too big`);
      break;
    case MapType.bloom_filter:
      if (keySize !== 0 || valueSize === 0 || maxEntries === 0 || (flags & ~BLOOM_FLAGS) !== 0 || (mapExtra & ~0xfn) !== 0n) {
        refuse(Errno.EINVAL, 'bloom_filter needs keySize 0, valueSize and maxEntries above 0, and a mapExtra (hash count) of at most 15');
      }
      break;
  }
  return {
    type, name, keySize, valueSize, maxEntries, flags, mapExtra, cpus,
    valueStride: perCpu ? roundUp8(valueSize) * cpus : valueSize,
  };
}
