/**
 * Zero-configuration metrics against bpftool: the series a scrape writes for the fixture's maps
 * carry the values `bpftool map dump` shows (BTF key members as labels, per-CPU sums, slots
 * histograms), the text format passes `promtool check metrics`, OpenMetrics has its own shape,
 * label values are escaped, and maps without BTF, over the series limit or missing are reported
 * by self-metrics without failing the scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';
import { parseExposition } from '../../src/serve/metrics/parse.js';
import { bpftoolJson, needs } from '../helpers.js';
import { bytes, chars, le, loadServeMaps, sampleValue } from './helpers.js';

interface DumpEntry {
  formatted: { key: unknown; value?: unknown; values?: Array<{ cpu: number; value: unknown }> };
}

function fillFixture(pin: (name: string) => string): void {
  using flows = BpfMap.openPinned(pin('flows'));
  flows.set(bytes(le(4, 100), chars(16, 'nginx')), bytes(le(8, 10), le(8, 1500)));
  flows.set(bytes(le(4, 200), chars(16, 'curl')), bytes(le(8, 3), le(8, 2n ** 40n)));
  flows.set(bytes(le(4, 300), chars(16, 'a"b\\c\nd\xff')), bytes(le(8, 7), le(8, 9)));
  using protos = BpfMap.openPinned(pin('pcpu_protos'));
  const cpus = possibleCpus();
  protos.set(le(4, 6), Array.from({ length: cpus }, (_, cpu) => le(8, 5 + cpu)) as unknown as Uint8Array);
  protos.set(le(4, 17), Array.from({ length: cpus }, (_, cpu) => le(8, cpu === 0 ? 11 : 0)) as unknown as Uint8Array);
  using hists = BpfMap.openPinned(pin('hists'));
  const slots = [1, 0, 4, 2, 0, 0, 0, 1];
  hists.set(le(4, 42), bytes(...slots.map((n) => le(4, n)), chars(16, 'sleep')));
}

test('zero-config series equal what bpftool dumps: key labels, value members, per-CPU sums, slots', needs('bpftool', 'clang', 'promtool'), async (t) => {
  const { maps, pin } = loadServeMaps(t);
  fillFixture(pin);
  const exporter = new MapExporter({ maps: [{ kind: 'pinned', path: maps }] });
  const text = await exporter.text('text');
  const families = parseExposition(text);

  const flows = bpftoolJson<DumpEntry[]>('map', 'dump', 'pinned', pin('flows'));
  assert.equal(flows.length, 3);
  let checked = 0;
  for (const entry of flows) {
    const key = entry.formatted.key as { pid: number; comm: unknown };
    const value = entry.formatted.value as { packets: number; bytes: number };
    if (typeof key.comm !== 'string') continue; // bpftool prints unprintable char arrays as arrays
    const labels = { pid: String(key.pid), comm: key.comm };
    assert.equal(sampleValue(families, 'bpfmap_flows_packets', labels), value.packets, `packets of ${key.comm}`);
    assert.equal(sampleValue(families, 'bpfmap_flows_bytes', labels), value.bytes, `bytes of ${key.comm}`);
    checked++;
  }
  assert.equal(checked, 2);
  // The unprintable comm: quote, backslash and newline escaped, the invalid UTF-8 byte as \xff.
  assert.match(text, /^bpfmap_flows_packets\{pid="300",comm="a\\"b\\\\c\\nd\\\\xff"\} 7$/m);

  const protos = bpftoolJson<DumpEntry[]>('map', 'dump', 'pinned', pin('pcpu_protos'));
  assert.equal(protos.length, 2);
  for (const entry of protos) {
    const sum = (entry.formatted.values ?? []).reduce((total, { value }) => total + (value as number), 0);
    assert.equal(sampleValue(families, 'bpfmap_pcpu_protos', { key: String(entry.formatted.key) }), sum, `per-CPU sum of ${String(entry.formatted.key)}`);
  }

  const perCpu = parseExposition(await new MapExporter({ maps: [{ kind: 'pinned', path: pin('pcpu_protos') }], perCpuLabel: true, programStats: false }).text('text'));
  for (const entry of protos) {
    for (const { cpu, value } of entry.formatted.values ?? []) {
      assert.equal(sampleValue(perCpu, 'bpfmap_pcpu_protos', { key: String(entry.formatted.key), cpu: String(cpu) }), value, `cpu ${cpu} of ${String(entry.formatted.key)}`);
    }
  }

  const hists = bpftoolJson<DumpEntry[]>('map', 'dump', 'pinned', pin('hists'));
  const histValue = (hists[0] as DumpEntry).formatted.value as { slots: number[]; comm: string };
  let cumulative = 0;
  histValue.slots.forEach((count, slot) => {
    cumulative += count;
    assert.equal(sampleValue(families, 'bpfmap_hists_bucket', { key: '42', comm: histValue.comm, le: String(2 ** (slot + 1) - 1) }), cumulative, `bucket of slot ${slot}`);
  });
  assert.equal(sampleValue(families, 'bpfmap_hists_bucket', { key: '42', comm: 'sleep', le: '+Inf' }), cumulative);
  assert.equal(sampleValue(families, 'bpfmap_hists_count', { key: '42', comm: 'sleep' }), cumulative);

  // Map-level families and the program that uses the maps.
  using flowsMap = BpfMap.openPinned(pin('flows'));
  const mapLabels = { map: 'flows', id: String(flowsMap.id) };
  assert.equal(sampleValue(families, 'bpfmap_map_entries', mapLabels), 3);
  assert.equal(sampleValue(families, 'bpfmap_map_max_entries', mapLabels), 200000);
  const shown = bpftoolJson<{ bytes_memlock: number }>('map', 'show', 'pinned', pin('flows'));
  assert.ok(shown.bytes_memlock > 0);
  assert.equal(sampleValue(families, 'bpfmap_map_memlock_bytes', mapLabels), shown.bytes_memlock, 'memlock as bpftool shows it');
  assert.equal(sampleValue(families, 'bpfmap_map_info', { ...mapLabels, type: 'hash', key_size: '20', value_size: '16', btf: 'true' }), 1);
  const runCounts = families.find((family) => family.name === 'bpfmap_prog_run_count_total');
  assert.ok(runCounts?.samples.some((sample) => sample.labels.name === 'serve_prog'), 'the program using the maps is listed');
  assert.ok(families.some((family) => family.name === 'bpfmap_bpf_stats_enabled' && family.samples.length === 1));

  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
});

test('OpenMetrics: counters as _total of their family, info type, # EOF at the end', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t);
  fillFixture(pin);
  const exporter = new MapExporter({ maps: [{ kind: 'pinned', path: maps }] });
  const text = await exporter.text('openmetrics');
  assert.ok(text.endsWith('# EOF\n'));
  assert.match(text, /^# TYPE bpfmap_read_errors counter$/m);
  assert.match(text, /^bpfmap_read_errors_total\{source="pinned [^"]+"\} 0$/m);
  assert.match(text, /^# TYPE bpfmap_map info$/m);
  assert.match(text, /^bpfmap_map_info\{map="flows",/m);
  assert.match(text, /^bpfmap_flows_packets\{pid="100",comm="nginx"\} 10$/m);
});

test('maps without BTF, the series limit and a missing selector: counted, never a failed scrape', needs('bpftool', 'clang'), async (t) => {
  const { dir, pin } = loadServeMaps(t);
  fillFixture(pin);
  using raw = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'raw_u64' });
  raw.set(le(4, 0x0a0b0c0d), le(8, 77));
  raw.pin(path.join(dir, 'raw_u64'));
  using odd = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 12, maxEntries: 4, name: 'raw_odd' });
  odd.set(le(4, 1), new Uint8Array(12));
  odd.pin(path.join(dir, 'raw_odd'));

  const exporter = new MapExporter({
    maps: [
      { kind: 'pinned', path: path.join(dir, 'raw_u64') },
      { kind: 'pinned', path: path.join(dir, 'raw_odd') },
      { kind: 'pinned', path: pin('flows') },
      { kind: 'pinned', path: path.join(dir, 'no-such-map') },
    ],
    seriesLimit: 2,
  });
  const families = parseExposition(await exporter.text('text'));
  assert.equal(sampleValue(families, 'bpfmap_raw_u64', { key: '0d0c0b0a' }), 77);
  assert.equal(sampleValue(families, 'bpfmap_map_values_skipped', { map: 'raw_odd', id: String(odd.id), reason: 'value of 12 bytes without BTF: only 8-byte values export as numbers' }), 1);
  const packets = families.find((family) => family.name === 'bpfmap_flows_packets');
  assert.equal(packets?.samples.length, 2, 'the series limit keeps 2 of 3 entries');
  using flows = BpfMap.openPinned(pin('flows'));
  assert.equal(sampleValue(families, 'bpfmap_map_series_dropped', { map: 'flows', id: String(flows.id) }), 1);
  assert.equal(sampleValue(families, 'bpfmap_read_errors_total', { source: `pinned ${path.join(dir, 'no-such-map')}` }), 1);
});

test('a selector by name follows a map recreated under the same name; an id selector does not switch maps', needs(), async (t) => {
  const name = `srv_${process.pid % 100000}`;
  let first = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name });
  t.after(() => first.close());
  first.set(le(4, 0), le(8, 1));
  const byName = new MapExporter({ maps: [{ kind: 'name', name }], programStats: false });
  const byId = new MapExporter({ maps: [{ kind: 'id', id: first.id }], programStats: false });
  assert.equal(sampleValue(parseExposition(await byName.text()), `bpfmap_${name}`, { key: '00000000' }), 1);
  assert.equal(sampleValue(parseExposition(await byId.text()), `bpfmap_${name}`, { key: '00000000' }), 1);
  const oldId = first.id;
  first.close();
  first = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name });
  first.set(le(4, 0), le(8, 2));
  const families = parseExposition(await byName.text());
  assert.equal(sampleValue(families, `bpfmap_${name}`, { key: '00000000' }), 2);
  assert.equal(sampleValue(families, 'bpfmap_map_entries', { map: name, id: String(first.id) }), 1);
  const idFamilies = parseExposition(await byId.text());
  assert.equal(sampleValue(idFamilies, `bpfmap_${name}`, { key: '00000000' }), undefined, 'the old id is gone: no series');
  assert.equal(sampleValue(idFamilies, 'bpfmap_read_errors_total', { source: `id ${oldId}` }), 1);
});
