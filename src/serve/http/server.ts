/**
 * The HTTP server of `bpfmap serve`, a library export: `/metrics` (text 0.0.4 or OpenMetrics by
 * content negotiation, gzip when asked), the JSON API and its event streams, and `/` for the web
 * view, from one route table that other parts can extend (`server.router.add(...)`).
 *
 * It is built on node:http (and node:https for TLS): routing a dozen paths needs no framework, no
 * dependency means nothing to audit or update for a process that holds CAP_BPF, and writing the
 * response directly gives the streaming and backpressure control a scrape of a million series needs.
 *
 * @example
 * const server = new BpfmapServer({ maps: [{ kind: 'all' }] });
 * const { port } = await server.listen();
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createGzip } from 'node:zlib';
import { BpfError } from '../../sys/errors.js';
import type { MetricsConfig } from '../metrics/ebpf-config.js';
import { CONTENT_TYPES, negotiateFormat } from '../metrics/exposition.js';
import { MapExporter, type MapExporterOptions } from '../metrics/exporter.js';
import { MapResolver, type ExportSelector } from '../metrics/selectors.js';
import { ApiMaps, DEFAULT_API_LIMITS, apiRoutes, type ApiLimits } from './api.js';
import { HttpError, sendError } from './errors.js';
import { Router, type Route } from './router.js';
import { DEFAULT_STREAM_LIMITS, streamRoutes, type StreamLimits } from './sse.js';
import { webRoutes } from './web.js';
import { BasicAuth, loadWebConfig, type WebConfig } from './web-config.js';

/**
 * The default port, 19655. Prometheus's "Default port allocations" list gives 9655 to the sas2ircu
 * exporter (since 2020) and its exporter range 9100-9999 is full, so bpfmap takes a port outside
 * it that no listed exporter uses; docs/serve.md says what was checked.
 */
export const DEFAULT_PORT = 19655;
/** The default address: loopback only. */
export const DEFAULT_HOST = '127.0.0.1';

/** Options of a `BpfmapServer`. */
export interface ServeOptions extends Omit<MapExporterOptions, 'maps' | 'config'> {
  /** Maps to export and serve (`{ kind: 'all' }` for every map). */
  readonly maps: readonly ExportSelector[];
  /** ebpf_exporter-style metrics configuration (parsed, or a YAML file path). */
  readonly config?: MetricsConfig | string;
  /** exporter-toolkit web configuration (parsed, or a YAML file path): TLS, basic auth, headers. */
  readonly webConfig?: WebConfig | string;
  /** Allow the API's writes (also needs basic auth configured). Default false. */
  readonly allowWrite?: boolean;
  /**
   * Stream the records of ring buffers that another process is seen consuming (`bpfmap serve
   * --force`). Default false: such an event stream is refused with 409 `ERR_BPFMAP_IN_USE`, since
   * a ring buffer has one consumer position and a second reader takes records away from the first.
   */
  readonly ignoreOtherProcesses?: boolean;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 19655, `DEFAULT_PORT`; 0 picks a free one). */
  readonly port?: number;
  readonly apiLimits?: ApiLimits;
  readonly streamLimits?: StreamLimits;
  /** An exporter to serve instead of building one from `maps` and `config`. */
  readonly exporter?: MapExporter;
}

/** Whether an Accept-Encoding header accepts gzip. */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name = '', ...params] = part.trim().split(';').map((piece) => piece.trim());
    const q = params.find((param) => param.startsWith('q='));
    return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** The server. */
export class BpfmapServer {
  readonly router = new Router();
  readonly exporter: MapExporter;
  readonly server: Server;
  readonly webConfig: WebConfig;
  readonly #auth: BasicAuth;
  readonly #allowWrite: boolean;
  readonly #host: string;
  readonly #port: number;

  constructor(options: ServeOptions) {
    this.webConfig = typeof options.webConfig === 'string' ? loadWebConfig(options.webConfig) : options.webConfig ?? { tls: undefined, users: new Map(), headers: {} };
    this.#auth = new BasicAuth(this.webConfig.users);
    this.#allowWrite = options.allowWrite ?? false;
    this.#host = options.host ?? DEFAULT_HOST;
    this.#port = options.port ?? DEFAULT_PORT;
    const ignoreOtherProcesses = options.ignoreOtherProcesses ?? false;
    if (typeof ignoreOtherProcesses !== 'boolean') throw Object.assign(new TypeError(`ignoreOtherProcesses must be a boolean, got ${typeof ignoreOtherProcesses}`), { code: 'ERR_BPFMAP_OPTIONS' });
    if (!Number.isInteger(this.#port) || this.#port < 0 || this.#port > 65535) throw Object.assign(new RangeError(`port must be 0 to 65535, got ${this.#port}`), { code: 'ERR_BPFMAP_OPTIONS' });
    this.exporter = options.exporter ?? new MapExporter({ ...options, maps: options.maps, ...(options.config !== undefined ? { config: options.config } : {}) });
    const apiMaps = new ApiMaps(new MapResolver(options.maps));
    this.router.add(this.#metricsRoute());
    this.router.add(...apiRoutes(apiMaps, options.apiLimits ?? DEFAULT_API_LIMITS));
    this.router.add(...streamRoutes(apiMaps, { allowWrite: this.#allowWrite, limits: options.streamLimits ?? DEFAULT_STREAM_LIMITS, ignoreOtherProcesses }));
    this.router.add(...webRoutes());

    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    // Node enforces headersTimeout and requestTimeout only when it checks its connections, every
    // 30 s by default: a client that never ends its headers would hold a socket 40 s, not 10.
    const checking = { connectionsCheckingInterval: 1000 };
    const tls = this.webConfig.tls;
    if (tls) {
      const verify = tls.clientAuth === 'RequireAndVerifyClientCert';
      this.server = createHttpsServer({
        ...checking,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca ? { ca: tls.ca } : {}),
        requestCert: tls.clientAuth !== 'NoClientCert',
        rejectUnauthorized: verify,
        minVersion: tls.minVersion,
        ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
      }, handler);
    } else {
      this.server = createHttpServer(checking, handler);
    }
    // Bounded: the time to send a request, to send headers, idle keep-alive, sockets at once.
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxConnections = 512;
  }

  /** Starts listening; resolves with the address (port 0 picks one). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.#port, this.#host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes open connections (event streams included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Handles one request (mount this in another server to serve bpfmap there). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      for (const [name, value] of Object.entries(this.webConfig.headers)) res.setHeader(name, value);
      const tlsConfig = this.webConfig.tls;
      if (tlsConfig && (tlsConfig.clientAuth === 'RequireAnyClientCert' || tlsConfig.clientAuth === 'VerifyClientCertIfGiven')) {
        const socket = req.socket as TLSSocket;
        const certificate = socket.getPeerCertificate();
        const presented = certificate !== null && Object.keys(certificate).length > 0;
        if (tlsConfig.clientAuth === 'RequireAnyClientCert' && !presented) throw new HttpError(403, 'ERR_CLIENT_CERT', 'a client certificate is required');
        if (tlsConfig.clientAuth === 'VerifyClientCertIfGiven' && presented && !socket.authorized) throw new HttpError(403, 'ERR_CLIENT_CERT', 'the client certificate is not trusted');
      }
      let user: string | undefined;
      if (this.#auth.enabled) {
        user = await this.#auth.check(req.headers.authorization);
        if (user === undefined) throw new HttpError(401, 'ERR_UNAUTHORIZED', 'basic authentication required', { 'WWW-Authenticate': 'Basic realm="bpfmap"' });
      }
      const target = req.url ?? '/';
      if (target.length > 8192) throw new HttpError(414, 'ERR_URI_TOO_LONG', 'request target is over 8192 bytes');
      let url: URL;
      try {
        url = new URL(target, 'http://bpfmap.invalid');
      } catch {
        throw new HttpError(400, 'ERR_BAD_URL', 'the request target is not a valid URL');
      }
      const { route, params } = this.router.match(req.method ?? 'GET', url.pathname);
      if (route.writes) {
        if (!this.#allowWrite) throw new HttpError(403, 'ERR_WRITE_DISABLED', 'writes are disabled: start bpfmap serve with --allow-write');
        if (!this.#auth.enabled) throw new HttpError(403, 'ERR_AUTH_REQUIRED', 'writes need basic_auth_users in the --web-config file');
      }
      await route.handler({ req, res, url, params, user });
    } catch (error) {
      sendError(res, toHttpError(error));
    }
  }

  #metricsRoute(): Route {
    return {
      method: 'GET',
      pattern: '/metrics',
      handler: async ({ req, res }) => {
        const format = negotiateFormat(req.headers.accept);
        res.statusCode = 200;
        res.setHeader('Content-Type', CONTENT_TYPES[format]);
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Vary', 'Accept, Accept-Encoding');
        const gzip = acceptsGzip(req.headers['accept-encoding']);
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        if (gzip) res.setHeader('Content-Encoding', 'gzip');
        const out = gzip ? createGzip() : res;
        if (gzip) out.pipe(res);
        let closed = false;
        res.once('close', () => {
          closed = true;
        });
        // The chunks are lent (their memory serves the next scrape), so each is written and its
        // write finished (taken by the socket, or by gzip) before the next is asked for: this is
        // also the scrape's backpressure, 64 KiB at a time. A client that leaves ends the loop
        // early, and then the collection's chunks are not reused.
        for await (const chunk of this.exporter.scrape(format, { lend: true })) {
          if (closed) break;
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('close', done);
              resolve();
            };
            res.once('close', done);
            out.write(chunk, () => done());
          });
        }
        out.end();
      },
    };
  }
}

/** Maps library errors to HTTP errors without internals. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof BpfError) {
    const status = error.code === 'ENOENT' ? 404 : error.code === 'EPERM' || error.code === 'EACCES' ? 403 : 500;
    return new HttpError(status, error.code, error.message);
  }
  const code = (error as { code?: unknown })?.code;
  if ((error instanceof TypeError || error instanceof RangeError) && typeof code === 'string' && code.startsWith('ERR_BPFMAP')) {
    return new HttpError(400, code, error.message);
  }
  return new HttpError(500, 'ERR_INTERNAL', 'internal error');
}
