/** `MapSpec`: what `BpfMap.create` takes, checked and turned into MAP_CREATE attributes. */
import { MapFlags, MapType, resolveMapType, type MapTypeName } from '../sys/constants.js';
import { argumentError } from '../sys/errors.js';
import type { HasNativeObject } from '../sys/native.js';
import { show, describe } from '../codec/codec.js';
import { mapCreateAttr, StructBuffer } from '../sys/layout.js';

/** A map flag's name, as in `MapFlags`. */
export type MapFlagName = keyof typeof MapFlags;

/** BTF type information attached to a new map. */
export interface MapBtfSpec {
  /**
   * A loaded BTF object: an fd you own (see `loadBtfIntoKernel`; it is duplicated and checked at
   * the call, and stays yours), or a bpfmap object holding one.
   */
  readonly fd: number | HasNativeObject<'btf'>;
  /** Type id of the key type in that BTF (0 for keyless maps). */
  readonly keyTypeId: number;
  /** Type id of the value type in that BTF. */
  readonly valueTypeId: number;
}

/** Anything that has a map fd: a `BpfMap` or an object with `fd`. */
export interface HasFd {
  readonly fd: number;
}

/** Map types whose key and value sizes are always 0: `keySize` and `valueSize` may be left out. */
export type SizelessMapTypeName = 'ringbuf' | 'user_ringbuf';
/** Map types without keys: `keySize` (always 0) may be left out. */
export type KeylessMapTypeName = 'queue' | 'stack' | 'bloom_filter';

/**
 * Everything needed to create a map. `keySize` and `valueSize` may be left out where the kernel
 * wants 0: both for ring buffers, `keySize` for queues, stacks and bloom filters.
 *
 * @example
 * BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024 });
 * BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 20 });
 * BpfMap.create({ type: 'queue', valueSize: 8, maxEntries: 64 });
 */
export type MapSpec = MapSpecOptions & (
  | { readonly type: SizelessMapTypeName; readonly keySize?: 0; readonly valueSize?: 0 }
  | { readonly type: KeylessMapTypeName; readonly keySize?: 0; readonly valueSize: number }
  | {
    /** bpftool's type name (`'hash'`, `'percpu_array'`, ...), a `MapType`, or a number. */
    readonly type: MapTypeName | MapType | number;
    /** Key size in bytes (0 for queue, stack, bloom_filter, ringbuf). */
    readonly keySize: number;
    /** Value size in bytes (per CPU, for per-CPU maps). */
    readonly valueSize: number;
  }
);

/** What a `MapSpec` holds besides its type and sizes. */
export interface MapSpecOptions {
  /** Maximum number of entries (ring buffers: data size in bytes; storage maps: 0). */
  readonly maxEntries: number;
  /** Up to 15 characters of `[A-Za-z0-9_.]`. */
  readonly name?: string;
  /** `MapFlags` as a number, or their names. */
  readonly flags?: number | readonly MapFlagName[];
  /** Shorthand for the MMAPABLE flag (array maps that `mmap()` can map). */
  readonly mmapable?: boolean;
  /** NUMA node to allocate on; sets the NUMA_NODE flag. */
  readonly numaNode?: number;
  /** For array_of_maps / hash_of_maps: a map (or its fd) whose shape inner maps must have. */
  readonly innerMap?: HasFd | number;
  /** Type-specific extra: the number of hash functions for bloom_filter (low 4 bits). */
  readonly mapExtra?: bigint | number;
  /** BTF key and value types. */
  readonly btf?: MapBtfSpec;
  /**
   * struct_ops maps: the id of the kernel's `bpf_struct_ops_<name>` value type in vmlinux BTF
   * (`btf` must then name the object's BTF with key and value type ids 0).
   */
  readonly btfVmlinuxValueTypeId?: number;
}

/**
 * `keySize` or `valueSize`, or 0 when left out where the kernel wants 0 (ring buffers; queue,
 * stack and bloom filter keys). Elsewhere leaving it out is a mistake named here.
 */
function sizeOrZero(spec: MapSpec, option: 'keySize' | 'valueSize', type: number): unknown {
  const size = (spec as { keySize?: unknown; valueSize?: unknown })[option];
  if (size !== undefined) return size;
  const zeroSized = type === MapType.ringbuf || type === MapType.user_ringbuf
    || (option === 'keySize' && (type === MapType.queue || type === MapType.stack || type === MapType.bloom_filter));
  if (zeroSized) return 0;
  throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `${option} is required for ${MapType[type] ?? `type ${type}`} maps`);
}

const NAME_PATTERN = /^[A-Za-z0-9_.]{0,15}$/;

function u32(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw argumentError(RangeError, 'ERR_BPFMAP_SPEC', `${option} must be an integer from 0 to 4294967295, got ${show(value)}`);
  }
  return value;
}

/** Resolves `flags` given as a number or names. */
export function resolveFlags(flags: MapSpec['flags']): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') return u32(flags, 'flags');
  if (!Array.isArray(flags)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `flags must be a number or an array of flag names, got ${describe(flags)}`);
  }
  let value = 0;
  for (const name of flags as readonly unknown[]) {
    const bit = typeof name === 'string' && Object.hasOwn(MapFlags, name) ? MapFlags[name as MapFlagName] : undefined;
    if (bit === undefined) {
      throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `unknown map flag '${show(name)}': expected one of ${Object.keys(MapFlags).join(', ')}`);
    }
    value |= bit;
  }
  return value >>> 0;
}

/** Checks a spec and encodes the MAP_CREATE attributes. Throws before anything reaches the kernel. */
/**
 * The pointer-free MAP_CREATE attribute of a spec, plus the objects whose fds it needs
 * (`innerMap`, `btf`: given to the addon as handles, which writes their private fds).
 */
export function encodeMapSpec(spec: MapSpec): { attr: Uint8Array; type: number; name: string; innerMap?: unknown; btf?: unknown } {
  if (spec === null || typeof spec !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', 'map spec must be an object');
  const type = resolveMapType(spec.type);
  const name = spec.name ?? '';
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw argumentError(RangeError, 'ERR_BPFMAP_SPEC', `map name must be up to 15 characters of [A-Za-z0-9_.], got '${show(name)}'`);
  }
  let flags = resolveFlags(spec.flags);
  if (spec.mmapable) flags |= MapFlags.MMAPABLE;
  let innerMap: unknown;
  let btfObject: unknown;
  if (spec.numaNode !== undefined) flags |= MapFlags.NUMA_NODE;
  const attr = new StructBuffer(mapCreateAttr);
  attr
    .setU32('map_type', type)
    .setU32('key_size', u32(sizeOrZero(spec, 'keySize', type), 'keySize'))
    .setU32('value_size', u32(sizeOrZero(spec, 'valueSize', type), 'valueSize'))
    .setU32('max_entries', u32(spec.maxEntries, 'maxEntries'))
    .setU32('map_flags', flags >>> 0)
    .setText('map_name', name);
  if (spec.numaNode !== undefined) attr.setU32('numa_node', u32(spec.numaNode, 'numaNode'));
  if (spec.innerMap !== undefined) {
    const inner: unknown = spec.innerMap;
    if (typeof inner !== 'number' && (inner === null || typeof inner !== 'object')) {
      throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `innerMap must be a map (an object with an fd) or an fd number, got ${describe(inner)}`);
    }
    innerMap = inner;
  }
  if (spec.mapExtra !== undefined) {
    const given: unknown = spec.mapExtra;
    if (typeof given !== 'bigint' && !(typeof given === 'number' && Number.isSafeInteger(given))) {
      throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `mapExtra must be a bigint or a safe integer, got ${describe(given)}`);
    }
    const extra = BigInt(given);
    if (extra < 0n || extra > 0xffffffffffffffffn) throw argumentError(RangeError, 'ERR_BPFMAP_SPEC', `mapExtra must fit in 64 bits, got ${extra}`);
    attr.setU64('map_extra', extra);
  }
  if (spec.btf !== undefined) {
    const btf: unknown = spec.btf;
    if (btf === null || typeof btf !== 'object') {
      throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `btf must be { fd, keyTypeId, valueTypeId }, got ${describe(btf)}`);
    }
    attr
      .setU32('btf_key_type_id', u32(spec.btf.keyTypeId, 'btf.keyTypeId'))
      .setU32('btf_value_type_id', u32(spec.btf.valueTypeId, 'btf.valueTypeId'));
    btfObject = (btf as { readonly fd?: unknown }).fd;
  }
  if (spec.btfVmlinuxValueTypeId !== undefined) attr.setU32('btf_vmlinux_value_type_id', u32(spec.btfVmlinuxValueTypeId, 'btfVmlinuxValueTypeId'));
  // Send only up to the last field in use: older kernels reject unknown non-zero tails (E2BIG),
  // and zero tails cost nothing, but a short attr is what libbpf sends too.
  const used = spec.mapExtra !== undefined ? 72 : 64;
  return {
    attr: attr.bytes.subarray(0, used),
    type,
    name,
    ...(innerMap !== undefined ? { innerMap } : {}),
    ...(btfObject !== undefined || spec.btf !== undefined ? { btf: btfObject } : {}),
  };
}
