/**
 * Event streams and embedding: ring buffer records reach `/api/maps/{id}/events` decoded through
 * the BTF of the program that writes them (64-bit values exact); reading a perf event array needs
 * --allow-write; streams are limited in number; and `registerWithPromClient` puts the map metrics
 * into a service's own prom-client registry next to its other metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Counter, Registry } from 'prom-client';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';
import { registerWithPromClient } from '../../src/serve/metrics/prom-client.js';
import { parseExposition } from '../../src/serve/metrics/parse.js';
import { needs } from '../helpers.js';
import { loadFixture, runProgram } from '../events/fixtures.js';
import { bytes, chars, freePort, le, loadServeMaps, request, sampleValue, sseClient } from './helpers.js';

test('ring buffer records stream decoded through the writing program\'s BTF; perf arrays need --allow-write', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_typed');
  const eventsPin = path.join(fixture.maps, 'events');
  using perf = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: possibleCpus(), name: 'srv_perf' });
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: eventsPin }, { kind: 'id', id: perf.id }], port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  using events = BpfMap.openPinned(eventsPin);

  const stream = sseClient(`http://127.0.0.1:${port}/api/maps/${events.id}/events?type=${encodeURIComponent('struct typed_event')}`);
  t.after(() => stream.close());
  await stream.opened;
  await runProgram(fixture, 'produce', 3);
  await stream.until(3);
  stream.close();
  assert.equal(stream.data.length, 3);
  stream.data.forEach((data, i) => {
    const seq = BigInt(i);
    assert.equal(data, `{"formatted":{"seq":${seq},"check":${~seq & 0xffffffffffffffffn},"tag":"evt","flags":2147483649}}`);
  });

  const refused = await request(`http://127.0.0.1:${port}/api/maps/${perf.id}/events`);
  assert.equal(refused.status, 403);
  assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'ERR_WRITE_DISABLED');
  const notEvents = await request(`http://127.0.0.1:${port}/api/maps/${events.id}/events?type=${encodeURIComponent('struct nosuch')}`);
  assert.equal(notEvents.status, 404);
  assert.equal((JSON.parse(notEvents.body) as { error: { code: string } }).error.code, 'ERR_NO_TYPE');
});

test('event streams are limited in number: one more answers 503', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-limit');
  using flows = BpfMap.openPinned(pin('flows'));
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], streamLimits: { maxStreams: 1, maxWatchEntries: 10 }, port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  const first = sseClient(`http://127.0.0.1:${port}/api/maps/${flows.id}/watch?interval=0.2`, 'values');
  t.after(() => first.close());
  await first.opened;
  const second = await request(`http://127.0.0.1:${port}/api/maps/${flows.id}/watch`);
  assert.equal(second.status, 503);
  assert.equal((JSON.parse(second.body) as { error: { code: string } }).error.code, 'ERR_TOO_MANY_STREAMS');
  // The first stream goes on: frames keep coming at its interval.
  await first.until(3);
});

test('registerWithPromClient: map metrics in a prom-client registry beside the service\'s own', needs('bpftool', 'clang'), async (t) => {
  const { pin } = loadServeMaps(t, 'serve-promclient');
  using flows = BpfMap.openPinned(pin('flows'));
  flows.set(bytes(le(4, 7), chars(16, 'app')), bytes(le(8, 5), le(8, 500)));
  const registry = new Registry();
  const requests = new Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] });
  requests.inc(3);
  await registerWithPromClient(new MapExporter({ maps: [{ kind: 'pinned', path: pin('flows') }], programStats: false }), registry);
  flows.set(bytes(le(4, 7), chars(16, 'app')), bytes(le(8, 6), le(8, 600)));
  const families = parseExposition(await registry.metrics());
  assert.equal(sampleValue(families, 'app_requests_total', {}), 3);
  assert.equal(sampleValue(families, 'bpfmap_flows_packets', { pid: '7', comm: 'app' }), 6, 'read at scrape time');
  assert.equal(sampleValue(families, 'bpfmap_flows_bytes', { pid: '7', comm: 'app' }), 600);
  assert.equal(sampleValue(families, 'bpfmap_map_entries', { map: 'flows', id: String(flows.id) }), 1);
});
