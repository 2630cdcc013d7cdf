/**
 * The elements of an in-memory map (`MemoryMap`), kept the way the kernel keeps them for each map
 * type and answering each operation the way the kernel's map code does: 0 or `-errno`, with the
 * same errno in the same order of checks (see kernel/bpf/hashtab.c, arraymap.c,
 * queue_stack_maps.c, bloom_filter.c). Raw bytes only: checks of arguments, codecs and the
 * syscall-level checks (frozen, read-only, flags) are `MemoryMap`'s.
 *
 * A store is shared by every handle on one memory map (`withCodecs`, `typed`), as a kernel map
 * is shared by its fds.
 */
import { Errno } from '../sys/errors.js';
import { MapType, UpdateFlags } from '../sys/constants.js';
import { nativeLittleEndian } from '../codec/record/format.js';

const ENOENT = -Errno.ENOENT;
const EEXIST = -Errno.EEXIST;
const E2BIG = -Errno.E2BIG;
const EINVAL = -Errno.EINVAL;

/** What a store needs to know of its map. */
export interface StoreShape {
  readonly type: number;
  readonly keySize: number;
  /** Bytes of one whole value as user space reads and writes it (per-CPU: all CPUs). */
  readonly valueStride: number;
  readonly maxEntries: number;
}

/** A key's bytes as a JavaScript Map key: a number for keys up to 6 bytes, a latin1 string otherwise. O(key size). */
export type KeyId = number | string;

/**
 * Node's native latin1 decoder of a byte range (what `buffer.toString('latin1')` runs), taken from
 * Buffer's prototype so that no Buffer is made per key: twice as fast as building the string in
 * JavaScript. Absent, the loop below does the same.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** The Map key for `size` bytes of `bytes` at `offset`. Distinct byte strings give distinct ids. */
export function keyIdOf(bytes: Uint8Array, offset: number, size: number): KeyId {
  if (size <= 6) {
    let id = 0;
    for (let i = size - 1; i >= 0; i--) id = id * 256 + bytes[offset + i]!;
    return id;
  }
  if (latin1Slice !== undefined) return latin1Slice.call(bytes, offset, offset + size);
  let id = '';
  for (let i = 0; i < size; i++) id += String.fromCharCode(bytes[offset + i]!);
  return id;
}

/** One element of a hash map: its own copies of the key and value bytes. */
export interface HashEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Where a batch or next-key walk stands in a hash store: a live iterator of its entries. */
export interface HashWalk {
  readonly iterator: Iterator<HashEntry>;
  /** The entry the walk last gave, and the store's reorder count then. */
  entry: HashEntry | undefined;
  order: number;
}

/**
 * hash, percpu_hash, lru_hash, lru_percpu_hash. Entries live in a JavaScript Map keyed by
 * `keyIdOf`: O(1) lookups and updates. Its insertion order is the iteration order (the kernel's
 * is hash-bucket order). LRU maps keep that order as recency: an update moves its key to the end
 * and a new key in a full map evicts the first.
 */
export class HashStore {
  readonly entries = new Map<KeyId, HashEntry>();
  /** Bumped whenever an entry moves (an LRU update): next-key walks started before must restart. */
  order = 0;
  #walk: HashWalk | undefined;

  constructor(readonly shape: StoreShape, readonly lru: boolean) {}

  get count(): number {
    return this.entries.size;
  }

  /** The stored value under `key` (a view the next update changes), or undefined. */
  view(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(keyIdOf(key, 0, this.shape.keySize))?.value;
  }

  /**
   * htab_map_update_elem / htab_lru_map_update_elem: check_flags (EEXIST, ENOENT) before the
   * element is allocated (E2BIG when a non-LRU map is full; an LRU map evicts instead).
   */
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    if ((flags & ~UpdateFlags.lock) > UpdateFlags.exist) return EINVAL;
    const id = keyIdOf(key, 0, this.shape.keySize);
    const old = this.entries.get(id);
    if (old !== undefined && (flags & UpdateFlags.noexist) !== 0) return EEXIST;
    if (old === undefined && (flags & UpdateFlags.exist) !== 0) return ENOENT;
    if (old !== undefined) {
      old.value.set(value);
      if (this.lru) {
        this.entries.delete(id);
        this.entries.set(id, old);
        this.order++;
      }
      return 0;
    }
    if (this.entries.size >= this.shape.maxEntries) {
      if (!this.lru) return E2BIG;
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(id, { key: key.slice(0, this.shape.keySize), value: value.slice(0, this.shape.valueStride) });
    return 0;
  }

  delete(key: Uint8Array): number {
    return this.entries.delete(keyIdOf(key, 0, this.shape.keySize)) ? 0 : ENOENT;
  }

  lookupAndDelete(key: Uint8Array, out: Uint8Array): number {
    const id = keyIdOf(key, 0, this.shape.keySize);
    const entry = this.entries.get(id);
    if (entry === undefined) return ENOENT;
    out.set(entry.value);
    this.entries.delete(id);
    return 0;
  }

  /**
   * htab_map_get_next_key: the first key when `key` is null or not in the map, ENOENT after
   * the last. A walk that asks for the key after the one it was just given continues its live
   * iterator (O(1) a step); any other key is found by scanning from the start.
   */
  nextKey(key: Uint8Array | null, out: Uint8Array): number {
    let entry: HashEntry | undefined;
    const current = key === null ? undefined : this.entries.get(keyIdOf(key, 0, this.shape.keySize));
    const walk = this.#walk;
    if (current !== undefined && walk !== undefined && walk.entry === current && walk.order === this.order) {
      entry = step(walk);
    } else {
      const fresh: HashWalk = { iterator: this.entries.values(), entry: undefined, order: this.order };
      if (current !== undefined) {
        while ((entry = step(fresh)) !== undefined && entry !== current);
      }
      entry = step(fresh);
      this.#walk = fresh;
    }
    if (entry === undefined) {
      this.#walk = undefined;
      return ENOENT;
    }
    out.set(entry.key);
    return 0;
  }

  clear(): void {
    this.entries.clear();
    this.#walk = undefined;
  }

  /** A live walk over the entries from the first (entries added meanwhile are met, deleted ones skipped). */
  walk(): HashWalk {
    return { iterator: this.entries.values(), entry: undefined, order: this.order };
  }
}

/** The next entry of a walk, remembered as where it stands. */
export function step(walk: HashWalk): HashEntry | undefined {
  const next = walk.iterator.next();
  walk.entry = next.done ? undefined : next.value;
  return walk.entry;
}

/** array, percpu_array: every index from 0 to max_entries - 1 exists, zeroed at creation. */
export class ArrayStore {
  readonly values: Uint8Array;

  constructor(readonly shape: StoreShape) {
    this.values = new Uint8Array(shape.valueStride * shape.maxEntries);
  }

  /** The index a 4-byte key names (a host-order u32, as the kernel reads it). */
  static indexOf(key: Uint8Array): number {
    const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = key;
    return nativeLittleEndian ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  }

  /** Writes index `index` as a key. */
  static writeIndex(index: number, out: Uint8Array, offset = 0): void {
    for (let i = 0; i < 4; i++) out[offset + (nativeLittleEndian ? i : 3 - i)] = (index >>> (8 * i)) & 0xff;
  }

  /** The stored value at the key's index (a view), or undefined past the end. */
  view(key: Uint8Array): Uint8Array | undefined {
    const index = ArrayStore.indexOf(key);
    if (index >= this.shape.maxEntries) return undefined;
    return this.values.subarray(index * this.shape.valueStride, (index + 1) * this.shape.valueStride);
  }

  /** array_map_update_elem: unknown flags EINVAL, an index past the end E2BIG, noexist EEXIST. */
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    if ((flags & ~UpdateFlags.lock) > UpdateFlags.exist) return EINVAL;
    const index = ArrayStore.indexOf(key);
    if (index >= this.shape.maxEntries) return E2BIG;
    if ((flags & UpdateFlags.noexist) !== 0) return EEXIST;
    this.values.set(value.subarray(0, this.shape.valueStride), index * this.shape.valueStride);
    return 0;
  }

  /** array_map_get_next_key: index 0 after null or an index past the end, ENOENT after the last. */
  nextKey(key: Uint8Array | null, out: Uint8Array): number {
    const index = key === null ? 0xffffffff : ArrayStore.indexOf(key);
    if (index >= this.shape.maxEntries) {
      ArrayStore.writeIndex(0, out);
      return 0;
    }
    if (index === this.shape.maxEntries - 1) return ENOENT;
    ArrayStore.writeIndex(index + 1, out);
    return 0;
  }

  clear(): void {
    this.values.fill(0);
  }
}

/**
 * queue, stack: a ring of max_entries values. Push on a full map is E2BIG, or with `exist`
 * overwrites the oldest value (for a stack too: the bottom one); pop and peek take the oldest
 * (queue) or newest (stack).
 */
export class QueueStore {
  readonly #ring: Uint8Array;
  /** Index of the oldest value. */
  #tail = 0;
  #count = 0;

  constructor(readonly shape: StoreShape) {
    this.#ring = new Uint8Array(shape.valueStride * shape.maxEntries);
  }

  get count(): number {
    return this.#count;
  }

  get #isStack(): boolean {
    return this.shape.type === MapType.stack;
  }

  /** queue_stack_map_push_elem: noexist or unknown flags EINVAL; E2BIG when full without `exist`. */
  push(value: Uint8Array, flags: number): number {
    if ((flags & UpdateFlags.noexist) !== 0 || flags > UpdateFlags.exist) return EINVAL;
    const { maxEntries, valueStride } = this.shape;
    if (this.#count === maxEntries) {
      if ((flags & UpdateFlags.exist) === 0) return E2BIG;
      this.#tail = (this.#tail + 1) % maxEntries;
      this.#count--;
    }
    const slot = (this.#tail + this.#count) % maxEntries;
    this.#ring.set(value.subarray(0, valueStride), slot * valueStride);
    this.#count++;
    return 0;
  }

  /** Copies the next value into `out` and, with `remove`, takes it off. ENOENT when empty. */
  take(out: Uint8Array, remove: boolean): number {
    if (this.#count === 0) return ENOENT;
    const { maxEntries, valueStride } = this.shape;
    const slot = this.#isStack ? (this.#tail + this.#count - 1) % maxEntries : this.#tail;
    out.set(this.#ring.subarray(slot * valueStride, (slot + 1) * valueStride));
    if (remove) {
      if (!this.#isStack) this.#tail = (this.#tail + 1) % maxEntries;
      this.#count--;
    }
    return 0;
  }

  clear(): void {
    this.#count = 0;
    this.#tail = 0;
  }
}

/**
 * bloom_filter, modelled exactly: a set of the values added. The kernel's bit array answers
 * "maybe" for some values never added (false positives); this one never does, so code under
 * test sees the bloom filter's best case.
 */
export class BloomStore {
  readonly #values = new Set<KeyId>();

  constructor(readonly shape: StoreShape) {}

  /** bloom_map_push_elem: only BPF_ANY. */
  push(value: Uint8Array, flags: number): number {
    if (flags !== UpdateFlags.any) return EINVAL;
    this.#values.add(keyIdOf(value, 0, this.shape.valueStride));
    return 0;
  }

  /** bloom_map_peek_elem: 0 when the value may be in the filter, ENOENT when it is not. */
  peek(value: Uint8Array): number {
    return this.#values.has(keyIdOf(value, 0, this.shape.valueStride)) ? 0 : ENOENT;
  }
}

/** The store for a map type, or undefined for types the in-memory map does not model. */
export type MemoryStore = HashStore | ArrayStore | QueueStore | BloomStore;

export function storeFor(shape: StoreShape): MemoryStore | undefined {
  switch (shape.type) {
    case MapType.hash:
    case MapType.percpu_hash:
      return new HashStore(shape, false);
    case MapType.lru_hash:
    case MapType.lru_percpu_hash:
      return new HashStore(shape, true);
    case MapType.array:
    case MapType.percpu_array:
      return new ArrayStore(shape);
    case MapType.queue:
    case MapType.stack:
      return new QueueStore(shape);
    case MapType.bloom_filter:
      return new BloomStore(shape);
    default:
      return undefined;
  }
}
