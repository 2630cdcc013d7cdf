/**
 * Checks of batch arguments (entry lists, options, batch sizes), shared by `BpfMap` and
 * `MemoryMap`, and free of the native addon.
 */
import { show, describe } from '../codec/codec.js';
import { argumentError } from '../sys/errors.js';

/** Entries per batch syscall unless told otherwise. */
export const DEFAULT_BATCH = 4096;
/** The most buffer memory one batch call may allocate (keys and values together). */
const MAX_BATCH_BYTES = 1 << 30;

/** The items of an iterable, with a typed error when it is not one. */
export function listOf<T>(items: Iterable<T>, what: string): T[] {
  if (items === null || (typeof items !== 'object' && typeof items !== 'function') || typeof (items as Partial<Iterable<T>>)[Symbol.iterator] !== 'function') {
    throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `${what} must be iterable, got ${describe(items)}`);
  }
  try {
    return Array.from(items);
  } catch (error) {
    // A fake iterable (Object.create(Uint8Array.prototype) inherits the typed array iterator).
    if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') throw error;
    throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `${what} could not be iterated: ${error instanceof Error ? error.message : show(error)}`);
  }
}

/** Checks that batch options are an object (or omitted). */
export function batchOptions<T extends object>(options: T | undefined, operation: string): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `${operation} options must be an object, got ${describe(options)}`);
  }
  return options;
}

/** What a batch size is checked against. */
export interface BatchShape {
  readonly name: string;
  readonly keySize: number;
  readonly valueBufferSize: number;
  readonly maxEntries: number;
}

/**
 * A batch size as given (a positive 32-bit integer, what the kernel's count holds), capped at
 * max_entries, since no batch returns more entries than the map holds, and checked against the
 * memory its buffers would take.
 */
export function batchCount(map: BatchShape, given: unknown, option: string): number {
  if (typeof given !== 'number' || !Number.isInteger(given) || given <= 0 || given > 0xffffffff) {
    throw argumentError(RangeError, 'ERR_BPFMAP_BATCH', `${option} must be an integer from 1 to 4294967295, got ${describe(given)}`);
  }
  const count = Math.min(given, Math.max(map.maxEntries, 1));
  const bytes = count * (map.keySize + map.valueBufferSize);
  if (bytes > MAX_BATCH_BYTES) {
    throw argumentError(RangeError, 'ERR_BPFMAP_BATCH', `${option} ${given} needs ${bytes} bytes of buffers for map '${map.name}', more than the ${MAX_BATCH_BYTES} a batch may take: use a smaller ${option}`);
  }
  return count;
}

/** The `delete` and `prefetch` options of `batches()`, checked: each a boolean, and not both. */
export function batchModes(given: { readonly delete?: unknown; readonly prefetch?: unknown }): { andDelete: boolean; prefetch: boolean } {
  const andDelete = given.delete ?? false;
  if (typeof andDelete !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `delete must be a boolean, got ${describe(andDelete)}`);
  const prefetch = given.prefetch ?? false;
  if (typeof prefetch !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `prefetch must be a boolean, got ${describe(prefetch)}`);
  if (andDelete && prefetch) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', 'prefetch cannot be combined with delete: reading ahead would delete entries before they are handed over');
  }
  return { andDelete, prefetch };
}
