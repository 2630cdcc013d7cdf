/** Reading several ring buffers or perf buffers as one stream. */
import type { EventReader, IterateOptions } from './event-reader.js';
import type { EventRecord } from './record.js';

/** A record of a merged stream: `source` is the index of its reader in the list given. */
export interface MergedEventRecord<T> extends EventRecord<T> {
  readonly source: number;
}

/**
 * The records of a merged stream of `readers`: a union over the readers, each record's `data`
 * typed by its reader's decoder and `source` its index, so checking `source` narrows `data`.
 */
export type MergedRecordOf<R extends readonly EventReader<unknown>[]> = {
  [I in keyof R]: R[I] extends EventReader<infer T>
    ? MergedEventRecord<T> & { readonly source: I extends `${infer N extends number}` ? N : number }
    : never;
}[number];

/**
 * Yields the records of several readers as they arrive, each tagged with the index of its
 * reader. Readers are visited round-robin, one record at a time, and waits consume nothing, so
 * ending the loop early loses no record. Ends when every reader is closed, on `signal`, after
 * `count` records, or after `idleTimeoutMs` with no record from any reader.
 *
 * @example
 * for await (const { source, data } of mergeEventReaders([execs, exits])) ...
 */
export async function* mergeEventReaders<const R extends readonly EventReader<unknown>[]>(
  readers: R,
  options: IterateOptions = {},
): AsyncGenerator<MergedRecordOf<R>, void, undefined> {
  type T = unknown;
  const limit = options.count ?? Infinity;
  let delivered = 0;
  let next: MergedEventRecord<T> | undefined;
  let source = 0;
  const take = (data: T, cpu: number | undefined): void => {
    next = cpu === undefined ? { source, data } : { source, cpu, data };
  };
  let start = 0;
  while (delivered < limit) {
    const open = readers.filter((reader) => !reader.closed);
    if (open.length === 0 || options.signal?.aborted) return;
    next = undefined;
    for (let step = 0; step < readers.length && next === undefined; step++) {
      source = (start + step) % readers.length;
      const reader = readers[source]!;
      if (!reader.closed) reader.consume(take, 1);
    }
    if (next !== undefined) {
      // Start after this reader next time, so a busy reader cannot starve the others.
      start = (source + 1) % readers.length;
      delivered++;
      yield next;
      continue;
    }
    // Wait on every reader at once; the first to be ready (or the caller's signal) cancels the rest.
    const cancel = new AbortController();
    const onAbort = (): void => cancel.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = open.map((reader) => reader.wait({ signal: cancel.signal, timeoutMs: options.idleTimeoutMs }));
      const first = await Promise.race(results);
      cancel.abort();
      await Promise.all(results);
      if (first === 'timeout' || first === 'aborted') return;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}
