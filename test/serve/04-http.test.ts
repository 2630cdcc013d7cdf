/**
 * The HTTP side of `bpfmap serve`: the JSON API against bpftool (show shapes, paginated dump
 * entries with exact 64-bit integers, lookups), JSON errors with stable codes and no stack
 * traces, gzip, the watch stream's rates, writes only with --allow-write and auth, basic auth
 * (wrong password 401) and TLS serving the configured certificate from an exporter-toolkit web
 * configuration, and a default start that listens on loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { networkInterfaces } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { BpfMap } from '../../src/map/bpf-map.js';
import { BpfmapServer, DEFAULT_PORT } from '../../src/serve/http/server.js';
import { bpftoolJson, needs, tempDir } from '../helpers.js';
import { cliPath } from '../cli/run-cli.js';
import { bytes, chars, freePort, le, loadServeMaps, request, takeSseBlocks } from './helpers.js';

test('JSON API: show shapes, paginated dump entries with exact integers, lookups, errors, gzip', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-api');
  using flows = BpfMap.openPinned(pin('flows'));
  for (let i = 0; i < 20; i++) flows.set(bytes(le(4, i), chars(16, `p${i}`)), bytes(le(8, i), le(8, 2n ** 60n + BigInt(i))));
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  const base = `http://127.0.0.1:${port}`;

  const list = JSON.parse((await request(`${base}/api/maps`)).body) as Array<Record<string, unknown>>;
  const shown = bpftoolJson<Record<string, unknown>>('map', 'show', 'pinned', pin('flows'));
  const ours = list.find((map) => map.id === shown.id);
  for (const field of ['id', 'type', 'name', 'flags', 'bytes_key', 'bytes_value', 'max_entries', 'bytes_memlock', 'frozen', 'btf_id']) {
    assert.deepEqual(ours?.[field], shown[field], field);
  }
  assert.deepEqual(JSON.parse((await request(`${base}/api/maps/${flows.id}`)).body), ours);

  // Pages of 7 until next_cursor is null: every entry once, as bpftool dumps it, 64-bit values exact.
  const seen: unknown[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await request(`${base}/api/maps/${flows.id}/entries?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(response.status, 200, response.body);
    for (const [, pid, value] of response.body.matchAll(/"pid":(\d+),"comm":"p\d+"\},"value":\{"packets":\d+,"bytes":(\d+)\}/g)) {
      assert.equal(BigInt(value as string), 2n ** 60n + BigInt(pid as string), 'exact 64-bit value');
    }
    const page = JSON.parse(response.body) as { entries: unknown[]; next_cursor: string | null };
    seen.push(...page.entries);
    cursor = page.next_cursor;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(seen.length, 20);
  const dump = bpftoolJson<Array<{ key: string[]; value: string[] }>>('map', 'dump', 'pinned', pin('flows'));
  const byKey = (entries: Array<{ key: string[] }>): string[] => entries.map((entry) => entry.key.join(' ')).sort();
  assert.deepEqual(byKey(seen as Array<{ key: string[] }>), byKey(dump));
  for (const entry of dump) {
    const mine = (seen as Array<{ key: string[]; value: string[] }>).find((candidate) => candidate.key.join() === entry.key.join());
    assert.deepEqual(mine?.value, entry.value);
  }

  const keyHex = Buffer.from(bytes(le(4, 3), chars(16, 'p3'))).toString('hex');
  const lookup = JSON.parse((await request(`${base}/api/maps/${flows.id}/lookup?key=${keyHex}`)).body) as { formatted: { value: { packets: number } } };
  assert.equal(lookup.formatted.value.packets, 3);

  const errors: Array<[string, number, string, string?]> = [
    [`/api/maps/abc`, 400, 'ERR_BAD_MAP_ID'],
    [`/api/maps/4294967295`, 404, 'ERR_NOT_FOUND'],
    [`/api/maps/${flows.id}/entries?limit=-1`, 400, 'ERR_BAD_PARAMETER'],
    [`/api/maps/${flows.id}/entries?cursor=b.zz`, 400, 'ERR_BAD_KEY'],
    [`/api/maps/${flows.id}/lookup?key=00`, 400, 'ERR_BAD_KEY'],
    [`/api/maps/${flows.id}/lookup?key=${'00'.repeat(20)}`, 404, 'ERR_NO_ENTRY'],
    [`/nothing/here`, 404, 'ERR_NOT_FOUND'],
    [`/metrics`, 405, 'ERR_METHOD_NOT_ALLOWED', 'POST'],
    [`/api/maps/${flows.id}/entries/${keyHex}`, 403, 'ERR_WRITE_DISABLED', 'DELETE'],
  ];
  for (const [target, status, code, method] of errors) {
    const response = await request(`${base}${target}`, { method: method ?? 'GET' });
    assert.equal(response.status, status, `${target}: ${response.body}`);
    assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, code, target);
    assert.doesNotMatch(response.body, /\n\s+at /, 'no stack trace');
  }

  const gzipped = await request(`${base}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(gzipped.headers['content-encoding'], 'gzip');
  assert.match(gzipped.body, /^bpfmap_flows_packets\{pid="3",comm="p3"\} 3$/m);
  assert.equal(gzipped.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
});

/** Reads `count` SSE events of a stream; `onEvent` runs after each one arrives. */
function readEvents(url: string, count: number, onEvent: (index: number) => void = () => {}): Promise<Array<{ event: string; data: string }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: string }> = [];
    let buffer = '';
    const req = httpGet(url, { agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer = takeSseBlocks(buffer + chunk, (block) => {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) {
            events.push({ event, data });
            onEvent(events.length - 1);
          }
          if (events.length === count) {
            req.destroy();
            resolve(events);
          }
        });
      });
    });
    req.on('error', (error) => {
      if (events.length < count) reject(error);
    });
  });
}

test('watch stream: values and per-second rates as the map changes', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-watch');
  using flows = BpfMap.openPinned(pin('flows'));
  const key = bytes(le(4, 1), chars(16, 'w'));
  flows.set(key, bytes(le(8, 100), le(8, 0)));
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  // The value changes once the first event is in (a timer could fire before it on a busy machine).
  const events = await readEvents(`http://127.0.0.1:${port}/api/maps/${flows.id}/watch?interval=0.5`, 2, (index) => {
    if (index === 0) flows.set(key, bytes(le(8, 400), le(8, 0)));
  });
  const [first, second] = events.map((event) => JSON.parse(event.data) as { time: number; entries: Array<{ formatted: { value: { packets: number } }; rates: Record<string, number> }> });
  assert.equal(first?.entries[0]?.formatted.value.packets, 100);
  assert.equal(second?.entries[0]?.formatted.value.packets, 400);
  const rate = second?.entries[0]?.rates.packets ?? 0;
  const expected = 300 / ((second?.time ?? 0) - (first?.time ?? 0));
  assert.ok(Math.abs(rate - expected) < 1e-6 * expected, `rate ${rate} = 300 / interval (${expected})`);
});

test('web config: basic auth (wrong password 401), TLS with the configured certificate, writes need auth', needs('bpftool', 'clang', 'openssl'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-tls');
  using flows = BpfMap.openPinned(pin('flows'));
  const dir = tempDir(t, 'bpfmap-serve-tls');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=bpfmap-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const hash = bcrypt.hashSync('s3cret', 10);
  writeFileSync(path.join(dir, 'web.yml'), `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prom: ${hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
  const cert = readFileSync(path.join(dir, 'cert.pem'));

  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], webConfig: path.join(dir, 'web.yml'), allowWrite: true, port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  const base = `https://127.0.0.1:${port}`;
  const auth = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  const served = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: cert, servername: '' }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
  assert.equal(served, new X509Certificate(cert).fingerprint256, 'the configured certificate is served');

  const none = await request(`${base}/metrics`, { ca: cert });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Basic realm="bpfmap"');
  assert.equal((await request(`${base}/metrics`, { ca: cert, headers: auth('prom', 'wrong') })).status, 401);
  assert.equal((await request(`${base}/metrics`, { ca: cert, headers: auth('nobody', 's3cret') })).status, 401);
  const ok = await request(`${base}/metrics`, { ca: cert, headers: auth('prom', 's3cret') });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['x-frame-options'], 'deny');
  assert.match(ok.body, /^bpfmap_map_entries\{map="flows",id="\d+"\} 0$/m);

  // Writes: allowed with --allow-write and auth; the map changes as bpftool sees it.
  const keyHex = Buffer.from(bytes(le(4, 5), chars(16, 'wr'))).toString('hex');
  const valueHex = Buffer.from(bytes(le(8, 42), le(8, 43))).toString('hex');
  const put = await request(`${base}/api/maps/${flows.id}/entries/${keyHex}`, { method: 'PUT', ca: cert, headers: { ...auth('prom', 's3cret'), 'Content-Type': 'application/json' }, body: JSON.stringify({ value: valueHex }) });
  assert.equal(put.status, 200, put.body);
  const looked = bpftoolJson<{ formatted: { value: { packets: number; bytes: number } } }>('map', 'lookup', 'pinned', pin('flows'), 'key', 'hex', ...keyHex.match(/../g) as string[]);
  assert.deepEqual(looked.formatted.value, { packets: 42, bytes: 43 });
  const big = await request(`${base}/api/maps/${flows.id}/entries/${keyHex}`, { method: 'PUT', ca: cert, headers: auth('prom', 's3cret'), body: 'x'.repeat(70 * 1024) });
  assert.equal(big.status, 413);
  const removed = await request(`${base}/api/maps/${flows.id}/entries/${keyHex}`, { method: 'DELETE', ca: cert, headers: auth('prom', 's3cret') });
  assert.equal(removed.status, 200);
  assert.equal(flows.get(bytes(le(4, 5), chars(16, 'wr'))), undefined);

  // --allow-write without auth configured still refuses writes.
  const open = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], allowWrite: true, port: await freePort() });
  const openAddress = await open.listen();
  t.after(() => open.close());
  const refused = await request(`http://127.0.0.1:${openAddress.port}/api/maps/${flows.id}/entries/${keyHex}`, { method: 'DELETE' });
  assert.equal(refused.status, 403);
  assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'ERR_AUTH_REQUIRED');
});

test('bpfmap serve listens on 127.0.0.1 unless told otherwise', needs('bpftool', 'clang'), async (t) => {
  const { pin } = loadServeMaps(t, 'serve-cli');
  const port = await freePort();
  const child = spawn(process.execPath, [cliPath, 'serve', 'pinned', pin('flows'), '--listen', `:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${text}`)));
  });
  assert.match(line, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/`));
  assert.equal((await request(`http://127.0.0.1:${port}/metrics`)).status, 200);
  const listening = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  assert.match(listening, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(listening, new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${port}`));
  const external = Object.values(networkInterfaces()).flat().find((address) => address && address.family === 'IPv4' && !address.internal);
  if (external) {
    const reached = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: external.address, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    assert.equal(reached, false, `not reachable on ${external.address}`);
  }
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, 'SIGTERM ends serve cleanly');
});

test('bpfmap serve with no --listen listens on 127.0.0.1:19655 (DEFAULT_PORT), in its own network namespace', needs('bpftool', 'clang', 'ip'), async (t) => {
  const { pin } = loadServeMaps(t, 'serve-default-port');
  assert.equal(DEFAULT_PORT, 19655);
  // Its own network namespace: the default port is fixed, and other tests or a real bpfmap serve
  // on this host may hold it in the host's namespace.
  const namespace = `bpfmap-scrape-${process.pid}-defport`;
  execFileSync('ip', ['netns', 'add', namespace]);
  t.after(() => execFileSync('ip', ['netns', 'delete', namespace]));
  execFileSync('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
  // By id: `ip netns exec` mounts a fresh /sys, so the test's bpffs pins are not visible inside.
  const flows = BpfMap.openPinned(pin('flows'));
  const id = flows.id;
  t.after(() => flows.close());
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, cliPath, 'serve', 'id', String(id)], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${text}`)));
  });
  assert.match(line, /listening on http:\/\/127\.0\.0\.1:19655\//);
  const listening = execFileSync('ip', ['netns', 'exec', namespace, 'ss', '-Hltn', 'sport = :19655'], { encoding: 'utf8' });
  assert.match(listening, /127\.0\.0\.1:19655/);
  const body = execFileSync('ip', ['netns', 'exec', namespace, 'curl', '-sf', 'http://127.0.0.1:19655/metrics'], { encoding: 'utf8' });
  assert.match(body, new RegExp(`^bpfmap_map_info\\{map="flows",id="${id}",`, 'm'));
});
