/**
 * The JSON API of `bpfmap serve` over the exported maps (the selection of `bpfmap serve`, resolved
 * per request): `GET /api/maps` (bpftool's `-j map show` objects), `/api/maps/{id}`,
 * `/api/maps/{id}/entries?limit=&cursor=` (`-j map dump` entries, 64-bit integers exact, in pages),
 * `/api/maps/{id}/lookup?key=HEX`, and with `--allow-write` and auth
 * `PUT`/`DELETE /api/maps/{id}/entries/{keyHex}`. Maps are named by id only: no request names a
 * filesystem path.
 */
import type { IncomingMessage } from 'node:http';
import { BatchCursor } from '../../map/batch.js';
import { BpfMap } from '../../map/bpf-map.js';
import { loadMapBtf } from '../../map/btf-map.js';
import type { MapInfo } from '../../map/info.js';
import { formatMapEntry } from '../../codec/btf/format.js';
import { formatToJson, type FormattedValue } from '../../codec/btf/json.js';
import { BpfError } from '../../sys/errors.js';
import { possibleCpus } from '../../sys/cpus.js';
import { isKeylessType, supportsBatchType } from '../../sys/constants.js';
import { roundUp8 } from '../../sys/layout.js';
import type { MapResolver } from '../metrics/selectors.js';
import { HttpError, badRequest, notFound } from './errors.js';
import type { Route, RouteContext } from './router.js';

/** Limits of the API. */
export interface ApiLimits {
  /** Entries per page at most (default 1000). */
  readonly maxPage: number;
  /** Request body bytes at most (default 64 KiB). */
  readonly maxBody: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = { maxPage: 1000, maxBody: 64 * 1024 };

/** Writes a JSON document (bigints as exact digits). */
export function sendJson(context: RouteContext, value: FormattedValue, status = 200): void {
  const body = `${formatToJson(value)}\n`;
  context.res.statusCode = status;
  context.res.setHeader('Content-Type', 'application/json; charset=utf-8');
  context.res.setHeader('Content-Length', Buffer.byteLength(body));
  context.res.end(context.req.method === 'HEAD' ? undefined : body);
}

function hexList(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + length; i++) out.push(`0x${(bytes[i] as number).toString(16).padStart(2, '0')}`);
  return out;
}

/** bpftool's `map show -j` object (fields it leaves out are left out). */
export function showObject(info: MapInfo): { [key: string]: FormattedValue } {
  const object: { [key: string]: FormattedValue } = {
    id: info.id,
    type: info.typeName,
    name: info.name,
    flags: info.flags,
    bytes_key: info.keySize,
    bytes_value: info.valueSize,
    max_entries: info.maxEntries,
  };
  if (info.memlock !== undefined) object.bytes_memlock = info.memlock;
  object.frozen = info.frozen ? 1 : 0;
  if (info.btfId) object.btf_id = info.btfId;
  return object;
}

/** Parses a hex byte string of exactly `size` bytes. */
export function parseHex(text: string | null, size: number, what: string): Uint8Array {
  if (text === null) throw badRequest('ERR_BAD_KEY', `${what} is required (hex bytes)`);
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean) || clean.length !== size * 2) {
    throw badRequest('ERR_BAD_KEY', `${what} must be ${size} bytes of hex (${size * 2} hex digits), got '${text.slice(0, 64)}'`);
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** Parses a positive integer query parameter with a default and a maximum. */
function intParam(url: URL, name: string, fallback: number, max: number): number {
  const text = url.searchParams.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw badRequest('ERR_BAD_PARAMETER', `${name} must be a positive integer, got '${text.slice(0, 32)}'`);
  return Math.min(Number(text), max);
}

/** Reads a request body of at most `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > limit) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `request body of ${length} bytes is over the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `request body is over the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The exported maps, for the API. */
export class ApiMaps {
  constructor(readonly resolver: MapResolver) {}

  /** Info of every exported map. */
  list(): MapInfo[] {
    const { maps } = this.resolver.resolve();
    try {
      return maps.map((map) => map.info).sort((a, b) => a.id - b.id);
    } finally {
      for (const map of maps) map.close();
    }
  }

  /** Opens exported map `idText` (read-only unless `writable`). @throws HttpError 404 */
  open(idText: string | undefined, writable = false): BpfMap {
    if (idText === undefined || !/^\d{1,10}$/.test(idText) || Number(idText) === 0) throw badRequest('ERR_BAD_MAP_ID', `'${String(idText).slice(0, 32)}' is not a map id`);
    const id = Number(idText);
    const { maps } = this.resolver.resolve();
    let found = false;
    for (const map of maps) {
      if (map.id === id) found = true;
      map.close();
    }
    if (!found) throw notFound(`no exported map with id ${id}`);
    try {
      return BpfMap.fromId(id, { readOnly: !writable });
    } catch (error) {
      if (error instanceof BpfError && error.code === 'ENOENT') throw notFound(`no exported map with id ${id}`);
      throw error;
    }
  }
}

/** One `-j dump` entry as JSON-ready data. */
export function entryObject(map: BpfMap, key: Uint8Array, value: Uint8Array): { [key: string]: FormattedValue } {
  const info = map.info;
  const object: { [key: string]: FormattedValue } = { key: hexList(key) };
  if (map.perCpu) {
    const cpus = possibleCpus();
    const stride = roundUp8(map.valueSize);
    object.values = Array.from({ length: cpus }, (_, cpu) => ({ cpu, value: hexList(value, cpu * stride, map.valueSize) }));
  } else {
    object.value = hexList(value, 0, map.valueSize);
  }
  const btf = loadMapBtf(info);
  if (btf !== undefined && (info.btfValueTypeId || info.btfVmlinuxValueTypeId)) {
    try {
      object.formatted = formatMapEntry(btf, info, key, value, map.perCpu ? possibleCpus() : undefined) as FormattedValue;
    } catch {
      // An entry BTF cannot format still has its bytes.
    }
  }
  return object;
}

function joinValue(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    // Per-CPU values decoded as one buffer per CPU: back to the kernel's layout.
    const parts = value as Uint8Array[];
    const stride = roundUp8(parts[0]?.length ?? 0);
    const joined = new Uint8Array(stride * parts.length);
    parts.forEach((part, cpu) => joined.set(part, cpu * stride));
    return joined;
  }
  throw new Error('unexpected value shape');
}

/** The API routes. */
export function apiRoutes(maps: ApiMaps, limits: ApiLimits = DEFAULT_API_LIMITS): Route[] {
  return [
    { method: 'GET', pattern: '/api/maps', handler: (context) => sendJson(context, maps.list().map(showObject)) },
    {
      method: 'GET',
      pattern: '/api/maps/:id',
      handler: (context) => {
        using map = maps.open(context.params.id);
        sendJson(context, showObject(map.info));
      },
    },
    {
      method: 'GET',
      pattern: '/api/maps/:id/entries',
      handler: (context) => {
        using map = maps.open(context.params.id);
        if (isKeylessType(map.type)) throw new HttpError(409, 'ERR_NOT_ITERABLE', `${map.typeName} maps have no keys to list`);
        const limit = intParam(context.url, 'limit', 100, limits.maxPage);
        const cursorText = context.url.searchParams.get('cursor');
        const entries: FormattedValue[] = [];
        let next: string | null = null;
        if (supportsBatchType(map.type)) {
          const cursor = new BatchCursor(map.keySize);
          if (cursorText !== null) {
            if (!cursorText.startsWith('b.')) throw badRequest('ERR_BAD_CURSOR', 'cursor is not one this API returned');
            cursor.out.set(parseHex(cursorText.slice(2), cursor.out.length, 'cursor'));
            cursor.advance();
          }
          const page = map.getBatch({ cursor, count: limit });
          for (const [key, value] of page.entries) entries.push(entryObject(map, key, joinValue(value)));
          if (!page.done) next = `b.${Buffer.from(cursor.in).toString('hex')}`;
        } else {
          let key: Uint8Array | undefined;
          if (cursorText !== null) {
            if (!cursorText.startsWith('k.')) throw badRequest('ERR_BAD_CURSOR', 'cursor is not one this API returned');
            key = parseHex(cursorText.slice(2), map.keySize, 'cursor');
          }
          for (let n = 0; n < limit; n++) {
            const following = map.nextKey(key);
            if (following === undefined) {
              key = undefined;
              break;
            }
            key = following;
            const value = map.get(key);
            if (value !== undefined) entries.push(entryObject(map, key, joinValue(value)));
          }
          if (key !== undefined) next = `k.${Buffer.from(key).toString('hex')}`;
        }
        sendJson(context, { entries, next_cursor: next });
      },
    },
    {
      method: 'GET',
      pattern: '/api/maps/:id/lookup',
      handler: (context) => {
        using map = maps.open(context.params.id);
        if (isKeylessType(map.type)) throw new HttpError(409, 'ERR_NOT_ITERABLE', `${map.typeName} maps have no keys`);
        const key = parseHex(context.url.searchParams.get('key'), map.keySize, 'key');
        const value = map.get(key);
        if (value === undefined) throw new HttpError(404, 'ERR_NO_ENTRY', 'no entry with that key');
        sendJson(context, entryObject(map, key, joinValue(value)));
      },
    },
    {
      method: 'PUT',
      pattern: '/api/maps/:id/entries/:key',
      writes: true,
      handler: async (context) => {
        const body = await readBody(context.req, limits.maxBody);
        let document: unknown;
        try {
          document = JSON.parse(body.toString('utf8'));
        } catch {
          throw badRequest('ERR_BAD_JSON', 'the body must be JSON: {"value": "HEX"}');
        }
        const valueText = typeof document === 'object' && document !== null ? (document as { value?: unknown }).value : undefined;
        if (typeof valueText !== 'string') throw badRequest('ERR_BAD_VALUE', 'the body must be {"value": "HEX"}');
        using map = maps.open(context.params.id, true);
        const key = parseHex(context.params.key ?? null, map.keySize, 'key');
        const value = parseHex(valueText, map.valueSize, 'value');
        if (map.perCpu) map.set(key, Array.from({ length: possibleCpus() }, () => value) as unknown as Uint8Array);
        else map.set(key, value);
        sendJson(context, { updated: true });
      },
    },
    {
      method: 'DELETE',
      pattern: '/api/maps/:id/entries/:key',
      writes: true,
      handler: (context) => {
        using map = maps.open(context.params.id, true);
        const key = parseHex(context.params.key ?? null, map.keySize, 'key');
        if (!map.delete(key)) throw new HttpError(404, 'ERR_NO_ENTRY', 'no entry with that key');
        sendJson(context, { deleted: true });
      },
    },
  ];
}
