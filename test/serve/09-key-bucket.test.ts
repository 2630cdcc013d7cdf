/**
 * Zero-configuration histograms in ebpf_exporter's layout (a struct key whose last member is the
 * bucket index, one count per entry): a histogram per value of the other key members, bucket i at
 * `le="2^i"`, per-CPU counts summed, missing buckets filled in, `_count` the total, all equal to
 * what `bpftool map dump` shows of the same map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';
import { parseExposition } from '../../src/serve/metrics/parse.js';
import { bpftoolJson, needs } from '../helpers.js';
import { bytes, le, loadServeMaps, sampleValue } from './helpers.js';

interface DumpEntry {
  formatted: { key: { dev: number; op: number; slot: number }; values: Array<{ cpu: number; value: number }> };
}

test('a key ending in a bucket index is a histogram per other key members, equal to bpftool dump', needs('bpftool', 'clang'), async (t) => {
  const { pin } = loadServeMaps(t, 'serve-kb');
  using bio = BpfMap.openPinned(pin('bio_latency_seconds'));
  const cpus = possibleCpus();
  const perCpu = (first: number): Uint8Array => Array.from({ length: cpus }, (_, cpu) => le(8, cpu === 0 ? first : cpu)) as unknown as Uint8Array;
  bio.set(bytes(le(4, 7), le(4, 1), le(8, 0)), perCpu(2));
  bio.set(bytes(le(4, 7), le(4, 1), le(8, 3)), perCpu(5));
  bio.set(bytes(le(4, 7), le(4, 0), le(8, 1)), perCpu(4));
  const families = parseExposition(await new MapExporter({ maps: [{ kind: 'pinned', path: pin('bio_latency_seconds') }], programStats: false }).text('text'));
  const family = families.find((candidate) => candidate.name === 'bpfmap_bio_latency_sec_slot');
  assert.equal(family?.type, 'histogram');

  // bpftool's view: counts by (dev, op) and slot, summed over CPUs.
  const counts = new Map<string, number[]>();
  for (const { formatted } of bpftoolJson<DumpEntry[]>('map', 'dump', 'pinned', pin('bio_latency_seconds'))) {
    const id = `${formatted.key.dev}/${formatted.key.op}`;
    const slots = counts.get(id) ?? [];
    slots[formatted.key.slot] = formatted.values.reduce((sum, { value }) => sum + value, 0);
    counts.set(id, slots);
  }
  assert.equal(counts.size, 2);
  for (const [id, slots] of counts) {
    const [dev, op] = id.split('/') as [string, string];
    let cumulative = 0;
    for (let slot = 0; slot < slots.length; slot++) {
      cumulative += slots[slot] ?? 0;
      assert.equal(sampleValue(families, 'bpfmap_bio_latency_sec_slot_bucket', { dev, op, le: String(2 ** slot) }), cumulative, `${id} le=2^${slot}`);
    }
    assert.equal(sampleValue(families, 'bpfmap_bio_latency_sec_slot_bucket', { dev, op, le: '+Inf' }), cumulative, `${id} +Inf`);
    assert.equal(sampleValue(families, 'bpfmap_bio_latency_sec_slot_count', { dev, op }), cumulative, `${id} _count`);
  }
});
