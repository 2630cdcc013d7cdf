/**
 * The Prometheus exporter-toolkit web configuration (what node_exporter's `--web.config.file`
 * takes): `tls_server_config` (cert_file, key_file, client_auth_type, client_ca_file,
 * min_version, max_version), `basic_auth_users` (user: bcrypt hash) and
 * `http_server_config.headers`. Unknown keys are refused, as the toolkit's strict parsing does.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError, parseYaml } from '../metrics/ebpf-config.js';

const requireDependency = createRequire(import.meta.url);

/** TLS settings. */
export interface TlsConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certFile: string;
  readonly ca: Buffer | undefined;
  readonly clientAuth: 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined;
}

/** A parsed web configuration. */
export interface WebConfig {
  readonly tls: TlsConfig | undefined;
  /** user -> bcrypt hash; empty without basic auth. */
  readonly users: ReadonlyMap<string, string>;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The headers exporter-toolkit lets a configuration set. */
const ALLOWED_HEADERS = ['Strict-Transport-Security', 'X-Content-Type-Options', 'X-Frame-Options', 'X-XSS-Protection', 'Content-Security-Policy'];
const TLS_VERSIONS: Record<string, TlsConfig['minVersion']> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const CLIENT_AUTH = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function only(object: Record<string, unknown>, keys: readonly string[], field: string): void {
  for (const key of Object.keys(object)) if (!keys.includes(key)) throw new ConfigError(`${field}.${key}`, `unknown field (known: ${keys.join(', ')})`);
}

function readRelative(base: string, file: string, field: string): Buffer {
  try {
    return readFileSync(path.resolve(base, file));
  } catch (error) {
    throw new ConfigError(field, `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Parses a web configuration; files it names are relative to `baseDir`. @throws ConfigError */
export function parseWebConfig(source: string, baseDir: string): WebConfig {
  let document: unknown;
  try {
    document = parseYaml(source) ?? {};
  } catch (error) {
    throw new ConfigError('web-config', `not valid YAML: ${(error as Error).message}`);
  }
  if (!isObject(document)) throw new ConfigError('web-config', 'expected a mapping');
  only(document, ['tls_server_config', 'http_server_config', 'basic_auth_users'], 'web-config');

  let tls: TlsConfig | undefined;
  const tlsSection = document.tls_server_config;
  if (tlsSection !== undefined && tlsSection !== null) {
    if (!isObject(tlsSection)) throw new ConfigError('tls_server_config', 'expected a mapping');
    only(tlsSection, ['cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'min_version', 'max_version', 'cipher_suites', 'curve_preferences', 'prefer_server_cipher_suites', 'client_allowed_sans'], 'tls_server_config');
    for (const unsupported of ['cipher_suites', 'curve_preferences', 'client_allowed_sans']) {
      if (tlsSection[unsupported] !== undefined) throw new ConfigError(`tls_server_config.${unsupported}`, 'is not supported by bpfmap');
    }
    const certFile = tlsSection.cert_file;
    const keyFile = tlsSection.key_file;
    if (typeof certFile !== 'string' || certFile === '') throw new ConfigError('tls_server_config.cert_file', 'is required');
    if (typeof keyFile !== 'string' || keyFile === '') throw new ConfigError('tls_server_config.key_file', 'is required');
    const clientAuth = String(tlsSection.client_auth_type ?? 'NoClientCert');
    if (!CLIENT_AUTH.includes(clientAuth)) throw new ConfigError('tls_server_config.client_auth_type', `unknown '${clientAuth}' (expected ${CLIENT_AUTH.join(', ')})`);
    const caFile = tlsSection.client_ca_file;
    if (clientAuth.includes('Verify') && typeof caFile !== 'string') throw new ConfigError('tls_server_config.client_ca_file', `is required with ${clientAuth}`);
    const version = (key: 'min_version' | 'max_version'): TlsConfig['minVersion'] | undefined => {
      const value = tlsSection[key];
      if (value === undefined) return undefined;
      const mapped = TLS_VERSIONS[String(value)];
      if (mapped === undefined) throw new ConfigError(`tls_server_config.${key}`, `unknown '${String(value)}' (expected TLS10, TLS11, TLS12 or TLS13)`);
      return mapped;
    };
    tls = {
      certFile: path.resolve(baseDir, certFile),
      cert: readRelative(baseDir, certFile, 'tls_server_config.cert_file'),
      key: readRelative(baseDir, keyFile, 'tls_server_config.key_file'),
      ca: typeof caFile === 'string' ? readRelative(baseDir, caFile, 'tls_server_config.client_ca_file') : undefined,
      clientAuth: clientAuth as TlsConfig['clientAuth'],
      minVersion: version('min_version') ?? 'TLSv1.2',
      maxVersion: version('max_version'),
    };
  }

  const users = new Map<string, string>();
  const usersSection = document.basic_auth_users;
  if (usersSection !== undefined && usersSection !== null) {
    if (!isObject(usersSection)) throw new ConfigError('basic_auth_users', 'expected user: bcrypt-hash pairs');
    for (const [user, hash] of Object.entries(usersSection)) {
      if (typeof hash !== 'string' || !/^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) throw new ConfigError(`basic_auth_users.${user}`, 'expected a bcrypt hash ($2y$...)');
      users.set(user, hash);
    }
  }

  const headers: Record<string, string> = {};
  const httpSection = document.http_server_config;
  if (httpSection !== undefined && httpSection !== null) {
    if (!isObject(httpSection)) throw new ConfigError('http_server_config', 'expected a mapping');
    only(httpSection, ['headers', 'http2'], 'http_server_config');
    const headerSection = httpSection.headers;
    if (headerSection !== undefined && headerSection !== null) {
      if (!isObject(headerSection)) throw new ConfigError('http_server_config.headers', 'expected Header: value pairs');
      for (const [name, value] of Object.entries(headerSection)) {
        const canonical = ALLOWED_HEADERS.find((allowed) => allowed.toLowerCase() === name.toLowerCase());
        if (canonical === undefined) throw new ConfigError(`http_server_config.headers.${name}`, `header not allowed (allowed: ${ALLOWED_HEADERS.join(', ')})`);
        headers[canonical] = String(value);
      }
    }
  }
  return { tls, users, headers };
}

/** Reads and parses a web configuration file. @throws ConfigError */
export function loadWebConfig(file: string): WebConfig {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('web-config', `cannot read ${file}: ${(error as Error).message}`);
  }
  return parseWebConfig(source, path.dirname(path.resolve(file)));
}

/**
 * Checks basic-auth credentials. bcrypt is slow on purpose (tens of ms); Prometheus scrapes send
 * the same credentials every time, so verified pairs are remembered (by a SHA-256 of user, hash and
 * password, never the password itself), as exporter-toolkit does.
 */
export class BasicAuth {
  readonly #verified = new Set<string>();

  constructor(readonly users: ReadonlyMap<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  /** The user an `Authorization` header authenticates, or undefined. */
  async check(header: string | undefined): Promise<string | undefined> {
    if (header === undefined) return undefined;
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (match === null) return undefined;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    // Compare against a hash even for unknown users, so that timing does not tell which users exist.
    const target = hash ?? '$2b$10$invalidinvalidinvalidinuB1Zk2LH8f8m6KjQk1yqSzpdBbD6bO6';
    const fingerprint = createHash('sha256').update(user).update('\0').update(target).update('\0').update(password).digest('hex');
    if (hash !== undefined && this.#verified.has(fingerprint)) return user;
    let ok = false;
    try {
      ok = await (requireDependency('bcryptjs') as typeof import('bcryptjs')).compare(password, target);
    } catch {
      ok = false;
    }
    if (!ok || hash === undefined) return undefined;
    if (this.#verified.size > 1024) this.#verified.clear();
    this.#verified.add(fingerprint);
    return user;
  }
}
