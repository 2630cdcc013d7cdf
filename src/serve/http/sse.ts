/**
 * Server-Sent Events streams: `/api/maps/{id}/watch` (the map's entries and their per-second rates
 * at an interval) and `/api/maps/{id}/events` (ring buffer and perf event array records, decoded
 * through a BTF type when `?type=NAME` names one). Streams are bounded in number; each ends when
 * its client goes away.
 */
import type { Btf } from '../../codec/btf/btf.js';
import { formatBtfValue } from '../../codec/btf/format.js';
import { formatToJson, type FormattedValue } from '../../codec/btf/json.js';
import { btfFromId } from '../../codec/btf/sources.js';
import { BpfInUseError } from '../../events/exclusive.js';
import { subscribeEvents, type EventSubscription } from '../../events/fan-out.js';
import { PerfBuffer } from '../../events/perf-buffer.js';
import { RingBuffer } from '../../events/ring-buffer.js';
import type { BpfMap } from '../../map/bpf-map.js';
import { loadMapBtf } from '../../map/btf-map.js';
import { MapType, isKeylessType } from '../../sys/constants.js';
import { programBtfIdsUsing } from '../metrics/programs.js';
import { entryObject, type ApiMaps } from './api.js';
import { HttpError, badRequest } from './errors.js';
import type { Route, RouteContext } from './router.js';

/** Limits of the streams. */
export interface StreamLimits {
  /** Streams open at once at most (default 16). */
  readonly maxStreams: number;
  /** Entries per watch frame at most (default 1000). */
  readonly maxWatchEntries: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxStreams: 16, maxWatchEntries: 1000 };

/** Flattens numeric leaves of a formatted value: `{a:{b:1}}` -> `a.b = 1`. */
function numericLeaves(value: FormattedValue, prefix: string, out: Map<string, number>): void {
  if (typeof value === 'number') out.set(prefix, value);
  else if (typeof value === 'bigint') out.set(prefix, Number(value));
  else if (Array.isArray(value)) value.forEach((item, i) => numericLeaves(item as FormattedValue, prefix === '' ? String(i) : `${prefix}.${i}`, out));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value as Record<string, FormattedValue>)) numericLeaves(item, prefix === '' ? key : `${prefix}.${key}`, out);
  }
}

/** The numeric value of an entry for rates: per-CPU values summed; raw 8-byte values as u64. */
function entryNumbers(entry: { [key: string]: FormattedValue }, valueBytes: Uint8Array, map: BpfMap): Map<string, number> {
  const numbers = new Map<string, number>();
  const formatted = entry.formatted as { value?: FormattedValue; values?: Array<{ value: FormattedValue }> } | undefined;
  if (formatted?.value !== undefined) numericLeaves(formatted.value, '', numbers);
  else if (formatted?.values !== undefined) {
    for (const { value } of formatted.values) {
      const one = new Map<string, number>();
      numericLeaves(value, '', one);
      for (const [path, n] of one) numbers.set(path, (numbers.get(path) ?? 0) + n);
    }
  } else if (map.valueSize === 8 && !map.perCpu) {
    numbers.set('', Number(new DataView(valueBytes.buffer, valueBytes.byteOffset, 8).getBigUint64(0, true)));
  }
  return numbers;
}

/** Starts an SSE response; returns a writer and a signal that aborts when the client leaves. */
function startStream(context: RouteContext): { send: (event: string, data: string) => boolean; drained: () => Promise<void>; signal: AbortSignal; abort: () => void; end: () => void } {
  const { req, res } = context;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  // SSE streams outlive the request timeout on purpose.
  req.socket.setTimeout(0);
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  req.on('close', abort);
  res.on('close', abort);
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  return {
    send: (event, data) => res.write(`event: ${event}\ndata: ${data}\n\n`),
    drained: () => new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        controller.signal.removeEventListener('abort', done);
        resolve();
      };
      res.once('drain', done);
      controller.signal.addEventListener('abort', done, { once: true });
    }),
    signal: controller.signal,
    abort: () => controller.abort(),
    end: () => {
      clearInterval(heartbeat);
      res.end();
    },
  };
}

/** Finds a record type by name in the map's BTF or the BTF of the programs using it. */
function findRecordType(map: BpfMap, name: string): { btf: Btf; typeId: number } {
  const match = /^\s*(?:(struct|union|enum)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(name);
  if (match === null) throw badRequest('ERR_BAD_TYPE', `'${name.slice(0, 64)}' is not a C type name (like 'struct event')`);
  const [, keyword, typeName = ''] = match;
  const sources: Btf[] = [];
  const own = loadMapBtf(map.info);
  if (own) sources.push(own);
  for (const id of programBtfIdsUsing(map.id)) sources.push(btfFromId(id).btf);
  const kinds = keyword === 'enum' ? ['enum', 'enum64'] : keyword !== undefined ? [keyword] : ['typedef', 'struct', 'union', 'int', 'float', 'enum', 'enum64'];
  for (const btf of sources) {
    const candidates = btf.typesByName(typeName);
    for (const kind of kinds) {
      const found = candidates.find((type) => type.kind === kind);
      if (found) return { btf, typeId: found.id };
    }
  }
  throw new HttpError(404, 'ERR_NO_TYPE', `no type '${name.trim()}' in the BTF of the map or of the programs using it`);
}

/** The stream routes. */
export function streamRoutes(maps: ApiMaps, options: { readonly allowWrite: boolean; readonly limits?: StreamLimits; readonly ignoreOtherProcesses?: boolean }): Route[] {
  const ignoreOtherProcesses = options.ignoreOtherProcesses ?? false;
  const limits = options.limits ?? DEFAULT_STREAM_LIMITS;
  let open = 0;
  const claim = (): (() => void) => {
    if (open >= limits.maxStreams) throw new HttpError(503, 'ERR_TOO_MANY_STREAMS', `${limits.maxStreams} event streams are open already`, { 'Retry-After': '5' });
    open++;
    let released = false;
    return () => {
      if (!released) open--;
      released = true;
    };
  };

  return [
    {
      method: 'GET',
      pattern: '/api/maps/:id/watch',
      handler: async (context) => {
        const intervalText = context.url.searchParams.get('interval') ?? '1';
        const interval = Number(intervalText);
        if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600) throw badRequest('ERR_BAD_PARAMETER', `interval must be seconds from 0.1 to 3600, got '${intervalText.slice(0, 32)}'`);
        const map = maps.open(context.params.id);
        if (isKeylessType(map.type)) {
          map.close();
          throw new HttpError(409, 'ERR_NOT_ITERABLE', `${map.typeName} maps have no entries to watch`);
        }
        let release: () => void;
        try {
          release = claim();
        } catch (error) {
          map.close();
          throw error;
        }
        const stream = startStream(context);
        let previous = new Map<string, { time: number; numbers: Map<string, number> }>();
        try {
          while (!stream.signal.aborted) {
            const now = Date.now() / 1000;
            const current = new Map<string, { time: number; numbers: Map<string, number> }>();
            const entries: FormattedValue[] = [];
            let truncated = false;
            for (const batch of map.batches()) {
              for (let i = 0; i < batch.count; i++) {
                if (entries.length >= limits.maxWatchEntries) {
                  truncated = true;
                  break;
                }
                const key = batch.keys.subarray(i * batch.keySize, (i + 1) * batch.keySize);
                const value = batch.values.subarray(i * batch.valueStride, (i + 1) * batch.valueStride);
                const entry = entryObject(map, key, value);
                const keyHex = Buffer.from(key).toString('hex');
                const numbers = entryNumbers(entry, value, map);
                const before = previous.get(keyHex);
                const rates: { [path: string]: FormattedValue } = {};
                if (before) {
                  const seconds = now - before.time;
                  for (const [path, n] of numbers) {
                    const old = before.numbers.get(path);
                    if (old !== undefined && seconds > 0) rates[path === '' ? 'value' : path] = (n - old) / seconds;
                  }
                }
                current.set(keyHex, { time: now, numbers });
                entries.push({ ...entry, rates });
              }
              if (truncated) break;
            }
            previous = current;
            stream.send('values', formatToJson({ time: now, truncated, entries }));
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, interval * 1000);
              stream.signal.addEventListener('abort', () => {
                clearTimeout(timer);
                resolve();
              }, { once: true });
            });
          }
        } catch (error) {
          stream.send('error', formatToJson({ code: error instanceof HttpError ? error.code : 'ERR_READ', message: error instanceof Error ? error.message : String(error) }));
        } finally {
          release();
          map.close();
          stream.end();
        }
      },
    },
    {
      method: 'GET',
      pattern: '/api/maps/:id/events',
      handler: async (context) => {
        const probe = maps.open(context.params.id);
        const type = probe.type;
        const typeName = context.url.searchParams.get('type');
        let recordType: { btf: Btf; typeId: number } | undefined;
        try {
          if (type !== MapType.ringbuf && type !== MapType.perf_event_array) throw new HttpError(409, 'ERR_NOT_EVENTS', `events need a ringbuf or perf_event_array map; this one is ${probe.typeName}`);
          // Reading a perf event array installs our own perf buffers in it: a write to the map.
          if (type === MapType.perf_event_array && !options.allowWrite) throw new HttpError(403, 'ERR_WRITE_DISABLED', 'reading a perf event array replaces its perf buffers: start with --allow-write');
          if (typeName !== null) recordType = findRecordType(probe, typeName);
        } finally {
          probe.close();
        }
        const mapId = Number(context.params.id);
        const release = claim();
        let subscription: EventSubscription<Uint8Array> | undefined;
        let stream: ReturnType<typeof startStream> | undefined;
        try {
          // One reader per map in this process, shared by every stream on it (and any other
          // subscriber): a ring buffer has one consumer position, a perf event array one buffer
          // per CPU. A client that falls 65536 records behind loses records (counted, and said in a
          // `dropped` event) rather than holding the other clients up.
          subscription = subscribeEvents(mapId, () => {
            // The consumer position of a ring buffer is written by its reader: open writable.
            const map = maps.open(context.params.id, true);
            try {
              return type === MapType.ringbuf ? RingBuffer.open(map, { ignoreOtherProcesses }) : PerfBuffer.open(map);
            } catch (error) {
              // Another process consumes the ring: say how the server is told to read it anyway.
              if (error instanceof BpfInUseError) {
                const who = error.processes.map(({ pid, comm }) => `pid ${pid} (${comm})`).join(', ');
                throw new HttpError(409, error.code, `ring buffer '${map.name}' id ${map.id} is already read by ${who}, and a second reader would take records away from it: stop it, or start bpfmap serve with --force (the server option ignoreOtherProcesses) to read it anyway`);
              }
              throw error;
            } finally {
              map.close();
            }
          }, { whenFull: 'drop', maxQueued: 65536 });
          stream = startStream(context);
          const open = subscription;
          stream.signal.addEventListener('abort', () => open.close(), { once: true });
          const size = recordType ? recordType.btf.size(recordType.typeId) : 0;
          let dropped = 0;
          for await (const { data, cpu } of subscription) {
            if (subscription.dropped !== dropped) {
              dropped = subscription.dropped;
              stream.send('dropped', formatToJson({ dropped }));
            }
            const record: { [key: string]: FormattedValue } = cpu === undefined ? {} : { cpu };
            if (recordType && data.length >= size) record.formatted = formatBtfValue(recordType.btf, recordType.typeId, data, 0);
            else record.data = Buffer.from(data).toString('hex');
            // Backpressure per client: wait for its socket to drain (its queue fills meanwhile).
            if (!stream.send('record', formatToJson(record))) await stream.drained();
          }
        } catch (error) {
          if (stream === undefined) throw error;
          if (!stream.signal.aborted) stream.send('error', formatToJson({ code: 'ERR_READ', message: error instanceof Error ? error.message : String(error) }));
        } finally {
          release();
          subscription?.close();
          stream?.end();
        }
      },
    },
  ];
}
