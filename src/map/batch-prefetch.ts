/**
 * Batch lookups read ahead: the addon's batch reader (native/batch_reader.c) runs MAP_LOOKUP_BATCH
 * on its own thread, batch after batch into its own buffers (up to two ahead), while JavaScript
 * handles the batch before; `finish` waits for the next one and copies it into the loop's
 * buffers. Used by `batchLoop` (iteration.ts) for `batches({ prefetch: true })`. Plain lookups
 * only, never a delete batch.
 */
import { native, type NativeBatchReader } from '../sys/native.js';
import type { MapCore } from './map-core.js';

/** One map's reader with a batch in flight from the moment it exists. */
export class BatchPrefetch {
  readonly #reader: NativeBatchReader;

  private constructor(reader: NativeBatchReader) {
    this.#reader = reader;
  }

  /**
   * A reader of `capacity` entries per batch, reading, or undefined when
   * none could be made (no memory, no fd, no thread: the caller reads without one, as it would
   * have without the option).
   */
  static start<K, V>(core: MapCore<K, V>, capacity: number): BatchPrefetch | undefined {
    const reader = native.batchReaderOpen(core.object, capacity);
    if (typeof reader === 'number') return undefined;
    if (native.batchReaderStart(reader) < 0) {
      native.batchReaderClose(reader);
      return undefined;
    }
    return new BatchPrefetch(reader);
  }

  /**
   * Waits for the batch in flight and copies it into `keys` and `values` (room for the
   * reader's capacity), its count into `countOut[0]`: 0 | -errno, as `mapBatch` returns.
   */
  finish(keys: Uint8Array, values: Uint8Array, countOut: Uint32Array): number {
    return native.batchReaderFinish(this.#reader, keys, values, countOut);
  }

  /**
   * Grows the batch (a bucket that did not fit: the reader paused after it) and reads on from
   * the same position: 0 | -errno.
   */
  retryWith(capacity: number): number {
    const rc = native.batchReaderResize(this.#reader, capacity);
    return rc < 0 ? rc : native.batchReaderStart(this.#reader);
  }

  /** Waits for a batch in flight, then releases the thread, the fd and the buffers. */
  close(): void {
    native.batchReaderClose(this.#reader);
  }
}
