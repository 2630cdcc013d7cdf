/**
 * A real Prometheus (Debian's `prometheus`) scrapes `bpfmap serve` on loopback: it negotiates
 * OpenMetrics and parses it without error, and its query API returns, for the fixture's maps,
 * the values bpftool dumps (BTF key members as labels, per-CPU sums, slots histogram buckets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { bpftoolJson, needs, tempDir } from '../helpers.js';
import { bytes, chars, freePort, le, loadServeMaps, request } from './helpers.js';

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promPort: number, expression: string): Promise<PromResult[]> {
  const response = await request(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expression)}`);
  assert.equal(response.status, 200, response.body);
  return (JSON.parse(response.body) as { data: { result: PromResult[] } }).data.result;
}

function valueOf(results: readonly PromResult[], labels: Record<string, string>): number | undefined {
  const found = results.find((result) => Object.entries(labels).every(([name, value]) => result.metric[name] === value));
  return found === undefined ? undefined : Number(found.value[1]);
}

test('Prometheus scrapes the maps: series and values equal bpftool dump', needs('bpftool', 'clang', 'prometheus'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-prom');
  using flows = BpfMap.openPinned(pin('flows'));
  for (let i = 0; i < 20; i++) flows.set(bytes(le(4, 1000 + i), chars(16, `worker-${i}`)), bytes(le(8, i * 3), le(8, 2n ** 33n + BigInt(i))));
  using protos = BpfMap.openPinned(pin('pcpu_protos'));
  const cpus = possibleCpus();
  protos.set(le(4, 6), Array.from({ length: cpus }, (_, cpu) => le(8, 100 + cpu * 7)) as unknown as Uint8Array);
  using hists = BpfMap.openPinned(pin('hists'));
  hists.set(le(4, 9), bytes(...[0, 2, 5, 1, 0, 0, 3, 0].map((n) => le(4, n)), chars(16, 'fio')));

  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: maps }], port: await freePort() });
  const accepts: string[] = [];
  server.server.on('request', (req) => accepts.push(String(req.headers.accept)));
  const address = await server.listen();
  t.after(() => server.close());

  const dir = tempDir(t, 'bpfmap-serve-prom');
  const promPort = await freePort();
  writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: bpfmap',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${address.port}']`,
    '',
  ].join('\n'));
  const prometheus = spawn('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  prometheus.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  t.after(async () => {
    if (prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((resolve) => prometheus.once('exit', resolve));
    }
  });

  // Wait for a successful scrape (the target is up and has samples).
  let target: { health: string; lastError: string } | undefined;
  for (let attempt = 0; attempt < 120; attempt++) {
    await sleep(250);
    try {
      const response = await request(`http://127.0.0.1:${promPort}/api/v1/targets`);
      if (response.status !== 200) continue;
      const targets = (JSON.parse(response.body) as { data: { activeTargets: Array<{ health: string; lastError: string }> } }).data.activeTargets;
      target = targets[0];
      if (target?.health === 'up' && (await query(promPort, 'bpfmap_flows_packets')).length === 20) break;
    } catch {
      // not listening yet
    }
  }
  assert.equal(target?.health, 'up', `target not up: ${JSON.stringify(target)}; prometheus log: ${log}`);
  assert.equal(target?.lastError, '');
  assert.ok(accepts.some((accept) => accept.includes('application/openmetrics-text')), `Prometheus asked for OpenMetrics: ${accepts[0]}`);

  const packets = await query(promPort, 'bpfmap_flows_packets');
  const bytesSeries = await query(promPort, 'bpfmap_flows_bytes');
  const dump = bpftoolJson<Array<{ formatted: { key: { pid: number; comm: string }; value: { packets: number; bytes: number } } }>>('map', 'dump', 'pinned', pin('flows'));
  assert.equal(packets.length, dump.length);
  for (const { formatted } of dump) {
    const labels = { pid: String(formatted.key.pid), comm: formatted.key.comm, job: 'bpfmap' };
    assert.equal(valueOf(packets, labels), formatted.value.packets);
    assert.equal(valueOf(bytesSeries, labels), formatted.value.bytes);
  }

  const protoDump = bpftoolJson<Array<{ formatted: { key: string; values: Array<{ value: number }> } }>>('map', 'dump', 'pinned', pin('pcpu_protos'));
  const protoSeries = await query(promPort, 'bpfmap_pcpu_protos');
  for (const { formatted } of protoDump) {
    assert.equal(valueOf(protoSeries, { key: formatted.key }), formatted.values.reduce((sum, { value }) => sum + value, 0));
  }

  const histDump = bpftoolJson<Array<{ formatted: { key: number; value: { slots: number[]; comm: string } } }>>('map', 'dump', 'pinned', pin('hists'));
  const buckets = await query(promPort, 'bpfmap_hists_bucket');
  const { key, value } = (histDump[0] as (typeof histDump)[number]).formatted;
  let cumulative = 0;
  value.slots.forEach((count, slot) => {
    cumulative += count;
    assert.equal(valueOf(buckets, { key: String(key), comm: value.comm, le: String(2 ** (slot + 1) - 1) }), cumulative, `slot ${slot}`);
  });
  assert.equal(valueOf(buckets, { le: '+Inf' }), cumulative);
  const quantile = await query(promPort, 'histogram_quantile(0.5, bpfmap_hists_bucket)');
  assert.equal(quantile.length, 1, 'Prometheus reads the buckets as a histogram');

  const entries = await query(promPort, `bpfmap_map_entries{map="flows"}`);
  assert.equal(Number(entries[0]?.value[1]), 20);
});
