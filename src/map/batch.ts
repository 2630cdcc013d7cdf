/** Buffers and cursors for the *_BATCH commands. */

/** Options of `map.batches()`. */
export interface BatchOptions {
  /** Entries per syscall (grown automatically when a hash bucket does not fit). Default 4096. */
  readonly batchSize?: number;
  /** Delete the entries as they are read (LOOKUP_AND_DELETE_BATCH). */
  readonly delete?: boolean;
  /**
   * Read the next batch on a thread of its own while the caller handles this one (a BPF map of
   * more entries than one batch holds; default false). Pays when each batch is worth real work,
   * as formatting a dump is: the kernel's copies and the caller's work then share two CPUs. The
   * chunks are the same. Plain lookups only: combined with `delete` it is an error, since
   * reading ahead would delete entries the caller may never see.
   */
  readonly prefetch?: boolean;
}

/**
 * One chunk of a raw batch lookup. `keys` and `values` are views over buffers that the next
 * chunk overwrites: copy what you keep.
 */
export interface MapBatch {
  /** Entries in this chunk. */
  readonly count: number;
  /** `count * keySize` bytes of keys. */
  readonly keys: Uint8Array;
  /** `count * valueStride` bytes of values. */
  readonly values: Uint8Array;
  /** Bytes per key. */
  readonly keySize: number;
  /** Bytes per value (per-CPU maps: roundup(valueSize, 8) * possible CPUs). */
  readonly valueStride: number;
}

/** Key and value buffers for `capacity` entries. */
export class BatchBuffers {
  readonly keys: Uint8Array;
  readonly values: Uint8Array;

  constructor(readonly keySize: number, readonly valueStride: number, readonly capacity: number) {
    this.keys = new Uint8Array(Math.max(keySize * capacity, 1));
    this.values = new Uint8Array(Math.max(valueStride * capacity, 1));
  }

  /** A chunk of the first `count` entries. */
  chunk(count: number): MapBatch {
    return {
      count,
      keys: this.keys.subarray(0, count * this.keySize),
      values: this.values.subarray(0, count * this.valueStride),
      keySize: this.keySize,
      valueStride: this.valueStride,
    };
  }
}

/**
 * Where a batch lookup continues. The kernel writes either a key (array maps) or a 4-byte
 * bucket index (hash maps) into it, so it holds max(keySize, 4) bytes. Opaque to callers.
 */
export class BatchCursor {
  /** What the next call reads (in_batch). */
  readonly in: Uint8Array;
  /** What the kernel writes (out_batch). */
  readonly out: Uint8Array;
  #started = false;
  #done = false;

  constructor(readonly keySize: number) {
    this.in = new Uint8Array(Math.max(keySize, 4));
    this.out = new Uint8Array(Math.max(keySize, 4));
  }

  /** True once a call has returned a position to continue from. */
  get started(): boolean {
    return this.#started;
  }

  /** True once the map has been read to its end. */
  get done(): boolean {
    return this.#done;
  }

  /** Moves the kernel's out position into the next call's in position. */
  advance(): void {
    this.in.set(this.out);
    this.#started = true;
  }

  /** Marks the end of the map. */
  finish(): void {
    this.#done = true;
  }
}
