/**
 * Helpers of the serve tests: the fixture's maps loaded and pinned in the test's own bpffs folder,
 * free loopback ports in 19200-19299 picked at run time, entries written in the maps' layouts,
 * HTTP requests with their raw bodies, and a Server-Sent Events client.
 */
import { createServer } from 'node:net';
import { get as httpGet, request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import { buildBpfObject, loadBpfObject, pinDir } from '../helpers.js';

/** Loads test/fixtures/serve_maps.bpf.c with bpftool; its maps are pinned under `maps`. */
export function loadServeMaps(t: TestContext, label = 'serve'): { dir: string; maps: string; pin: (name: string) => string } {
  const dir = pinDir(t, label);
  const { maps } = loadBpfObject(buildBpfObject('serve_maps'), dir);
  return { dir, maps, pin: (name) => path.join(maps, name) };
}

/** A port in 19200-19299 that nothing listens on now (tried at random). */
export async function freePort(): Promise<number> {
  const tried = new Set<number>();
  while (tried.size < 100) {
    const port = 19200 + Math.floor(Math.random() * 100);
    if (tried.has(port)) continue;
    tried.add(port);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 19200-19299');
}

/** `bytes` little-endian integer fields. */
export function le(size: number, value: number | bigint): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  if (size === 8) view.setBigUint64(0, BigInt(value), true);
  else if (size === 4) view.setUint32(0, Number(value), true);
  else if (size === 2) view.setUint16(0, Number(value), true);
  else bytes[0] = Number(value);
  return bytes;
}

/** Concatenates byte fields. */
export function bytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A C char array of `size` bytes holding `text` (latin1 bytes) and NULs. */
export function chars(size: number, text: string): Uint8Array {
  const out = new Uint8Array(size);
  out.set(Buffer.from(text, 'latin1').subarray(0, size));
  return out;
}

/** A response with its body (gunzipped when the server sent gzip). */
export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly raw: Buffer;
}

/** An HTTP(S) request to 127.0.0.1. */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer; timeoutMs?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    // agent: false, a connection per request. Node 20's global agent keeps sockets alive, and a
    // later test that draws the same port from freePort() could reuse one whose server is gone
    // ('socket hang up').
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: options.method ?? 'GET', headers: options.headers ?? {}, ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs ?? 30_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, raw });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The value of the sample with exactly these labels, or undefined. */
export function sampleValue(families: ReturnType<typeof import('../../src/serve/metrics/parse.js').parseExposition>, name: string, labels: Record<string, string>): number | undefined {
  for (const family of families) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      const keys = Object.keys(sample.labels);
      if (keys.length !== Object.keys(labels).length) continue;
      if (keys.every((key) => sample.labels[key] === labels[key])) return sample.value;
    }
  }
  return undefined;
}

/** A Server-Sent Events client of one stream (see `sseClient`). */
export interface SseClient {
  /** The `data:` of each event of the awaited kind, as they came. */
  readonly data: string[];
  /** Resolves once the server answered 200; rejects with the status and body otherwise. */
  readonly opened: Promise<void>;
  /** Resolves once `count` events have come, rejects after `timeoutMs`. */
  until(count: number, timeoutMs?: number): Promise<void>;
  /** Closes the stream (and is safe to call again). */
  close(): void;
}

/** Calls `onBlock` with each complete SSE block (text before a blank line) of `text`; returns the incomplete rest. */
export function takeSseBlocks(text: string, onBlock: (block: string) => void): string {
  let rest = text;
  let end: number;
  while ((end = rest.indexOf('\n\n')) >= 0) {
    onBlock(rest.slice(0, end));
    rest = rest.slice(end + 2);
  }
  return rest;
}

/** Opens `url` as an SSE stream and gathers the data of its `event` events (default `record`). */
export function sseClient(url: string, event = 'record'): SseClient {
  const data: string[] = [];
  let buffer = '';
  let notify: (() => void) | undefined;
  let req: ClientRequest | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    req = httpGet(url, { agent: false }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => reject(Object.assign(new Error(`status ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
        return;
      }
      resolve();
      res.on('data', (chunk: string) => {
        buffer = takeSseBlocks(buffer + chunk, (block) => {
          if (block.startsWith(`event: ${event}\n`)) data.push(block.slice(block.indexOf('data: ') + 6));
        });
        notify?.();
      });
    });
    req.on('error', reject);
  });
  // A stream closed on purpose ends with a socket error nobody awaits.
  opened.catch(() => undefined);
  return {
    data,
    opened,
    until: (count, timeoutMs = 30_000) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${data.length} of ${count} ${event} events after ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (data.length >= count) {
          clearTimeout(timer);
          notify = undefined;
          resolve();
        }
      };
      notify = check;
      check();
    }),
    close: () => req?.destroy(),
  };
}
