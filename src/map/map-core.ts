/**
 * `MapCore`: what one `BpfMap` handle owns and every operation works on — the map's handle (its
 * private fd), the addon-owned staging area for one key and one value, the codecs, and the
 * checks and errors shared by element, batch and type-specific operations.
 *
 * `BpfMap` is a thin public class over one `MapCore`; the operations live in modules of functions
 * over the core (elements.ts, iteration.ts, batch-ops.ts, queue-stack-bloom.ts, fd-values.ts).
 * Internal: not exported from the package.
 */
import { type Codec, bytesCodec, isBytesCodec, copyBytes, describe, isUint8ArrayOfSize, uint8ArrayLength } from '../codec/codec.js';
import { native, type NativeMapHandle, type NativeMapId, type NativeObject } from '../sys/native.js';
import { BpfError, Errno, checkHandle, sizeError, argumentError, type ErrorSubject } from '../sys/errors.js';
import type { CommandName } from '../sys/commands.js';
import { MapType, UpdateFlags, isKeylessType, isPerCpuType, mapTypeName } from '../sys/constants.js';
import { possibleCpus } from '../sys/cpus.js';
import { roundUp8 } from '../sys/layout.js';
import { readMapInfo, type MapInfo } from './info.js';
import { perCpuCodec } from './codecs.js';
import { isKeyedType, needsTypes, unsupportedMethod } from './map-methods.js';
import type { MappedArray } from './mapped-array.js';

export const ENOENT = -Errno.ENOENT;
const EINVAL = -Errno.EINVAL;

/** The codecs a core is made with (`MapCodecs` of bpf-map.ts). */
export interface CoreCodecs<K> {
  readonly key?: Codec<K>;
  readonly value?: Codec<unknown>;
}

/** The map behind one `BpfMap` handle. Takes ownership of the native object it is given. */
export class MapCore<K, V> {
  readonly type: number;
  readonly name: string;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  /** True for map types with keys (not queue, stack, bloom filter, ring buffers): element, iteration and batch methods work. */
  readonly keyed: boolean;
  readonly valueBufferSize: number;
  readonly readOnly: boolean;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  readonly elementCodec: Codec<unknown>;

  /** The map: owns the private fd every operation uses (closed when collected: the GC safety net). */
  readonly object: NativeObject<'map'>;
  /** The binding the element functions use (references `object`). */
  readonly owner: NativeMapHandle;
  /** What the native element functions take. */
  readonly handle: NativeMapId;
  /** The staged key: a view of the addon-owned staging area the `*Staged` calls read. */
  readonly keyBuffer: Uint8Array;
  readonly nextKeyBuffer: Uint8Array;
  /** The staged value (at least 1 byte), in the same staging area. */
  readonly valueBuffer: Uint8Array;
  /** The staged value, exactly `valueBufferSize` bytes, and a DataView over it. */
  readonly stagedValue: Uint8Array;
  readonly stagedValueView: DataView;
  readonly rawKeys: boolean;
  readonly rawValues: boolean;
  readonly subject: ErrorSubject;
  readonly countOut = new Uint32Array(1);
  mappings: MappedArray[] = [];
  closed = false;
  batchUnsupported = false;
  /**
   * True while an operation of a map with user codecs runs: its codecs may call back into this
   * map (a value encoder that looks another key up), and such a nested call must not touch the
   * staging area the outer call has half filled. Nested calls run on `reentry()` instead.
   */
  codecBusy = false;
  /** Whether the codecs can run user code (raw keys and values cannot). */
  readonly userCodecs: boolean;
  /** A second core with its own staging area for nested calls; made on first need, closed with this one. */
  reentrant: MapCore<K, V> | undefined;

  constructor(object: NativeObject<'map'>, codecs: CoreCodecs<K> = {}, options: { readOnly?: boolean; path?: string } = {}) {
    let info: MapInfo;
    let handle: NativeMapHandle;
    try {
      info = readMapInfo(object);
      // Per-CPU maps: a false possible-CPU count is this typed error, before any buffer is sized.
      if (isPerCpuType(info.type)) possibleCpus();
      handle = checkHandle('OBJ_GET_INFO_BY_FD', native.mapBind(object));
    } catch (error) {
      native.objClose(object);
      throw error;
    }
    this.object = object;
    this.owner = handle;
    this.handle = handle.id;
    this.type = info.type;
    this.name = info.name;
    this.id = info.id;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.readOnly = options.readOnly ?? false;
    this.perCpu = isPerCpuType(info.type);
    this.keyed = isKeyedType(info.type);
    this.subject = { name: info.name, id: info.id, ...(options.path ? { path: options.path } : {}) };

    const keyCodec = (codecs.key ?? bytesCodec(info.keySize)) as Codec<K>;
    if (keyCodec.size !== info.keySize && !isKeylessType(info.type)) {
      this.#handleFailure();
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `key codec is ${keyCodec.size} bytes but ${info.name ? `map '${info.name}'` : `map ${info.id}`} has ${info.keySize}-byte keys`);
    }
    const element = codecs.value ?? bytesCodec(info.valueSize);
    if (element.size !== info.valueSize) {
      this.#handleFailure();
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `value codec is ${element.size} bytes but ${info.name ? `map '${info.name}'` : `map ${info.id}`} has ${info.valueSize}-byte values`);
    }
    this.keyCodec = keyCodec;
    this.elementCodec = element;
    this.valueCodec = (this.perCpu ? perCpuCodec(element, possibleCpus()) : element) as Codec<V>;
    this.valueBufferSize = this.perCpu ? roundUp8(info.valueSize) * possibleCpus() : info.valueSize;
    this.rawKeys = isBytesCodec(keyCodec);
    this.rawValues = isBytesCodec(element) && !this.perCpu;
    this.userCodecs = !(this.rawKeys && this.rawValues);
    // The staging area holds a key of at least 4 bytes, so that it can serve as a batch cursor,
    // and one whole value; the addon sized it from the kernel's own sizes.
    this.keyBuffer = new Uint8Array(handle.staging, 0, Math.max(info.keySize, 4));
    this.nextKeyBuffer = new Uint8Array(Math.max(info.keySize, 4));
    this.valueBuffer = new Uint8Array(handle.staging, handle.valueOffset, Math.max(this.valueBufferSize, 1));
    this.stagedValue = this.valueBuffer.subarray(0, this.valueBufferSize);
    this.stagedValueView = new DataView(handle.staging, handle.valueOffset, this.valueBuffer.length);
  }

  #handleFailure(): void {
    native.mapClose(this.handle);
    this.closed = true;
  }

  /** bpftool's name of the map type. */
  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** Checks a raw key; throws before any syscall. */
  rawKey(key: K): Uint8Array {
    if (isUint8ArrayOfSize(key, this.keySize)) return key;
    const length = uint8ArrayLength(key);
    if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_KEY_TYPE', `key expected a Uint8Array of ${this.keySize} bytes, got ${describe(key)}`);
    if (length !== this.keySize) throw sizeError('key', this.keySize, length);
    return key as Uint8Array;
  }

  /** Checks a raw value; throws before any syscall. */
  rawValue(value: V): Uint8Array {
    if (isUint8ArrayOfSize(value, this.valueSize)) return value;
    const length = uint8ArrayLength(value);
    if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value expected a Uint8Array of ${this.valueSize} bytes, got ${describe(value)}`);
    if (length !== this.valueSize) throw sizeError('value', this.valueSize, length);
    return value as Uint8Array;
  }

  /** A key's bytes: a checked raw key, or the key encoded into the staging area. */
  key(key: K): Uint8Array {
    if (this.rawKeys) return this.rawKey(key);
    this.keyCodec.encode(key, this.keyBuffer, 0);
    return this.keyBuffer;
  }

  /** A value's bytes: a checked raw value, or the value encoded into the staging area. */
  value(value: V): Uint8Array {
    if (this.rawValues) return this.rawValue(value);
    this.valueCodec.encode(value, this.valueBuffer, 0);
    return this.valueBuffer;
  }

  /**
   * Puts a key into the staging area (copied after checks, or encoded there); throws before any
   * syscall. The staged native calls then pass only the handle: two typed-array lookups fewer in
   * the addon per operation, which is most of what a call costs beyond the syscall itself.
   */
  stageKey(key: K): void {
    if (this.rawKeys) copyBytes(this.rawKey(key), this.keyBuffer);
    else this.keyCodec.encode(key, this.keyBuffer, 0);
  }

  /** Puts a value into the staging area, like `stageKey`. */
  stageValue(value: V): void {
    if (this.rawValues) copyBytes(this.rawValue(value), this.valueBuffer);
    else this.valueCodec.encode(value, this.valueBuffer, 0);
  }

  /** The error of a failed command: EBADF naming the closed handle, or the kernel's errno. */
  fail(command: CommandName, rc: number): BpfError {
    if (this.closed) {
      return new BpfError(`${command} on map '${this.name}' id ${this.id}: the map handle is closed`, {
        code: 'EBADF',
        errno: Errno.EBADF,
        command,
        subject: this.subject,
      });
    }
    return BpfError.fromErrno(command, -rc, this.subject);
  }

  /**
   * The error of a failed lookup or update. EINVAL with the `lock` flag has one usual cause,
   * which the errno does not say: the value has no bpf_spin_lock (or the map no BTF at all).
   */
  elementFailure(command: 'MAP_LOOKUP_ELEM' | 'MAP_UPDATE_ELEM', rc: number, flagBits: number): BpfError {
    if (rc === EINVAL && (flagBits & UpdateFlags.lock) !== 0 && !this.closed) {
      let btfId = 0;
      try {
        btfId = readMapInfo(this.object).btfId;
      } catch {
        // The explanation below holds either way.
      }
      const why = btfId === 0 ? 'this map has no BTF, so no lock' : "this map's value type has none";
      return BpfError.withReason(command, Errno.EINVAL, `flag 'lock' needs a value type (in the map's BTF) that holds a struct bpf_spin_lock: ${why}`, this.subject);
    }
    return this.fail(command, rc);
  }

  /**
   * The core nested calls run on: same map, same codecs, its own staging area, so that a codec
   * that calls back into this map (get inside encode, set inside decode) reads and writes the
   * keys it names and leaves the outer call's staged key and value alone.
   */
  reentry(): MapCore<K, V> {
    this.ensureOpen();
    this.reentrant ??= new MapCore<K, V>(this.duplicateObject(), { key: this.keyCodec, value: this.elementCodec }, { readOnly: this.readOnly });
    return this.reentrant;
  }

  /** A new handle on the same map (a duplicated private fd), for another `MapCore`. */
  duplicateObject(): NativeObject<'map'> {
    return checkHandle('OBJ_GET_INFO_BY_FD', native.objDup(this.object), this.subject);
  }

  ensureOpen(): void {
    if (this.closed) throw this.fail('OBJ_GET_INFO_BY_FD', -Errno.EBADF);
  }

  /** Whether batch commands may work: map types that have them, until a kernel said it has none. */
  canBatch(): boolean {
    return !this.batchUnsupported && (
      this.type === MapType.hash || this.type === MapType.array || this.type === MapType.percpu_hash ||
      this.type === MapType.percpu_array || this.type === MapType.lru_hash || this.type === MapType.lru_percpu_hash
    );
  }

  /** Refuses `operation` on maps without keys (queue, stack, bloom filter, ring buffers), naming what they support. */
  requireKeyed(operation: string): void {
    if (!this.keyed) throw unsupportedMethod(operation, 'a keyed map', this.type, this.name, this.id);
  }

  /** Refuses `operation` on maps of other types than `types`, naming what this one supports. */
  requireType(operation: string, ...types: MapType[]): void {
    if (!types.includes(this.type)) throw unsupportedMethod(operation, needsTypes(types), this.type, this.name, this.id);
  }

  /** Closes the handle, the nested-call core and the mappings. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reentrant?.close();
    this.reentrant = undefined;
    for (const mapping of this.mappings) mapping.unmap();
    this.mappings = [];
    native.objClose(this.object);
  }
}
