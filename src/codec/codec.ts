/**
 * The codec interface: how keys and values of a typed map turn into bytes and back.
 *
 * A codec has a fixed `size` and encodes into / decodes from caller-given buffers, so that the
 * map can reuse one scratch buffer per map and allocate nothing per operation for the bytes.
 * Records (`BpfRecord`) and BTF types implement it; `bytesCodec` is the raw default.
 */

/** Turns values of type `T` into exactly `size` bytes and back. */
export interface Codec<T> {
  /** Bytes one value occupies. */
  readonly size: number;
  /**
   * Writes `value` into `target[offset .. offset + size)`. Throws `TypeError`/`RangeError`
   * naming the offending field, and writes nothing, when `value` does not fit the layout.
   */
  encode(value: T, target: Uint8Array, offset: number): void;
  /** Reads one value from `source[offset .. offset + size)`. */
  decode(source: Uint8Array, offset: number): T;
}

/** The value type a codec produces. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;

/** Marks the raw byte codec so that maps can skip the copy on the hot path. */
export const RAW_BYTES = Symbol('bpfmap.rawBytes');

/** Up to this many bytes, `copyBytes` copies in a loop that the JIT compiles inline. */
const INLINE_COPY_LIMIT = 64;

/** The raw codec: values are `Uint8Array`s of exactly `size` bytes (decoded as copies). */
export interface BytesCodec extends Codec<Uint8Array> {
  readonly [RAW_BYTES]: true;
}

// The intrinsic getters, captured at load: a subclass, an own property or a Proxy cannot make
// them lie, and they throw for nothing (they return undefined for non-typed-arrays).
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayTag = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag)!.get as (this: unknown) => string | undefined;
const typedArrayLength = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'length')!.get as (this: unknown) => number;

/**
 * The true length of a genuine `Uint8Array` (Buffers included), or -1 for anything else: a
 * Proxy, an object made with `Object.create(Uint8Array.prototype)`, or another typed array.
 * A subclass that overrides `length` gets its real length here.
 */
export function uint8ArrayLength(value: unknown): number {
  if (typedArrayTag.call(value) !== 'Uint8Array') return -1;
  return typedArrayLength.call(value);
}

/**
 * `uint8ArrayLength(value) === size`, in code the JIT compiles inline: the per-operation check
 * of keys and values. Calling the intrinsic getters (or `Object.getPrototypeOf`) is a call into
 * the engine's builtins, a few ns on its own but paid again in cold pages after every syscall
 * on kernels that flush the TLB at each one (see README, Benchmarks): 100-300 ns per lookup on
 * the development VM, measured against this function.
 *
 * Exact for every Uint8Array all the same: `ArrayBuffer.isView` is true only for genuine typed
 * arrays and DataViews (never a Proxy or an `Object.create` of one), and the indexed elements
 * of a typed array are its own, never looked up on its prototype nor shadowed by an own
 * property: element `size - 1` exists and element `size` does not exactly when its true length
 * is `size`, whatever `length` a subclass or an own property claims. Anything that is not an
 * instance of Uint8Array goes to `uint8ArrayLength` (a Uint8ClampedArray, a DataView: false).
 * The one object it takes that `uint8ArrayLength` refuses is another kind of typed array whose
 * prototype was set to Uint8Array's: its elements are then stored as bytes, as a number would be.
 */
export function isUint8ArrayOfSize(value: unknown, size: number): value is Uint8Array {
  if (!ArrayBuffer.isView(value)) return false;
  if (!(value instanceof Uint8Array)) return uint8ArrayLength(value) === size;
  return (size === 0 || value[size - 1] !== undefined) && value[size] === undefined;
}

/** A raw byte codec of a fixed size. */
export function bytesCodec(size: number): BytesCodec {
  return {
    [RAW_BYTES]: true,
    size,
    encode(value: Uint8Array, target: Uint8Array, offset: number): void {
      const length = uint8ArrayLength(value);
      if (length < 0) {
        throw Object.assign(new TypeError(`expected a Uint8Array of ${size} bytes, got ${describe(value)}`), { code: 'ERR_BPFMAP_VALUE_TYPE' });
      }
      if (length !== size) throw Object.assign(new RangeError(`expected ${size} bytes, got ${length}`), { code: 'ERR_BPFMAP_VALUE_SIZE' });
      target.set(value, offset);
    },
    decode(source: Uint8Array, offset: number): Uint8Array {
      // A fresh array filled by copyBytes' inline loop: for the small sizes of keys and values,
      // cheaper than slice(), which looks up the species constructor on every call.
      if (size > INLINE_COPY_LIMIT) return source.slice(offset, offset + size);
      const copy = new Uint8Array(size);
      for (let i = 0; i < size; i++) copy[i] = source[offset + i]!;
      return copy;
    },
  };
}


/**
 * Copies `source` into `target` at `offset` (the caller has checked that it fits). Short copies
 * run as an inlined loop: `TypedArray.prototype.set` is a builtin call whose fixed cost is larger
 * than copying a small key or value by hand.
 */
export function copyBytes(source: Uint8Array, target: Uint8Array, offset = 0): void {
  const length = source.length;
  if (length > INLINE_COPY_LIMIT) {
    target.set(source, offset);
    return;
  }
  for (let i = 0; i < length; i++) target[offset + i] = source[i]!;
}

/** True for codecs made by `bytesCodec`. */
export function isBytesCodec(codec: Codec<unknown>): codec is BytesCodec {
  return (codec as Partial<BytesCodec>)[RAW_BYTES] === true;
}

/**
 * A value as an error message shows it: primitives as themselves (`5`, `abc`), objects by
 * `describe`. Never throws, unlike a template string, which calls a Proxy's or a fake typed
 * array's `toString` (or throws for a Symbol).
 */
export function show(value: unknown): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  return describe(value);
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  try {
    if (Array.isArray(value)) return `an array of ${value.length}`;
    const length = uint8ArrayLength(value);
    if (length >= 0) return `a Uint8Array of ${length} bytes`;
    if (typeof value === 'object') return `a ${String((value as { constructor?: { name?: unknown } }).constructor?.name ?? 'object')}`;
    if (typeof value === 'symbol') return value.toString();
    return `${typeof value} ${String(value)}`;
  } catch {
    // A Proxy or an object whose getters throw: say what it is without touching it again.
    return `a ${typeof value}`;
  }
}
