/** `hist`: bcc's print_log2_hist / print_linear_hist layout, from maps keyed by slot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfRecord, createWithRecords, histogramBucket, histogramOf } from '../../src/index.js';
import { libbpfLog2Text, linearHistText, log2HistText } from '../../src/cli/histogram.js';
import { needs, pinDir } from '../helpers.js';
import { cliJson, runCli } from './run-cli.js';

test('log2 layout: bcc header, ranges from slot 1, 40-star bars, zero rows kept after the first', () => {
  assert.deepEqual(log2HistText([0n, 1n, 0n, 4n], 'usecs'), [
    '     usecs               : count     distribution',
    '         0 -> 1          : 1        |**********                              |',
    '         2 -> 3          : 0        |                                        |',
    '         4 -> 7          : 4        |****************************************|',
  ]);
  // Past slot 32 bcc widens the columns and halves the bars.
  const wide = log2HistText([...Array<bigint>(40).fill(0n), 3n]);
  assert.equal(wide[0], `               ${'value'.padEnd(29)} : count     distribution`);
  assert.match(wide.at(-1) ?? '', /^ +549755813888 -> 1099511627775 +: 3 +\|\*{20}\|$/);
  assert.deepEqual(log2HistText([0n, 0n]), []);
});

test('linear layout', () => {
  assert.deepEqual(linearHistText([2n, 0n, 1n]), [
    '     value         : count     distribution',
    '        0          : 2        |****************************************|',
    '        1          : 0        |                                        |',
    '        2          : 1        |********************                    |',
  ]);
});

test('hist of an array map and a per-CPU map, text and JSON', needs(), (t) => {
  const dir = pinDir(t, 'cli-hist');
  using slots = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 16, name: 'cli_hist' });
  using perCpu = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'cli_hist_pc' });
  const key = (slot: number): Uint8Array => Uint8Array.of(slot, 0, 0, 0);
  const count = (value: number): Uint8Array => Uint8Array.of(value, 0, 0, 0, 0, 0, 0, 0);
  slots.set(key(1), count(1));
  slots.set(key(3), count(4));
  perCpu.set(key(2), Array.from({ length: perCpu.valueBufferSize / 8 }, () => count(3)));
  slots.pin(path.join(dir, 'slots'));
  perCpu.pin(path.join(dir, 'pc'));
  const text = runCli('hist', 'pinned', path.join(dir, 'slots'));
  assert.equal(text.status, 0, text.stderr);
  assert.deepEqual(text.stdout.trimEnd().split('\n'), log2HistText([0n, 1n, 0n, 4n]));
  const json = cliJson<{ layout: string; source: string; histograms: Array<{ key: unknown; buckets: unknown[]; total: number }> }>('hist', 'pinned', path.join(dir, 'slots'));
  assert.equal(json.layout, 'bcc-log2');
  assert.equal(json.source, 'key-slot');
  assert.deepEqual(json.histograms[0], {
    key: null,
    buckets: [
      { slot: 1, low: 0, high: 1, count: 1, label: '0 -> 1' },
      { slot: 2, low: 2, high: 3, count: 0, label: '2 -> 3' },
      { slot: 3, low: 4, high: 7, count: 4, label: '4 -> 7' },
    ],
    total: 5,
  });
  const cpus = perCpu.valueBufferSize / 8;
  const summed = cliJson<{ histograms: Array<{ buckets: unknown[] }> }>('hist', 'pinned', path.join(dir, 'pc'), '--linear');
  assert.deepEqual(summed.histograms[0]?.buckets.at(-1), { slot: 2, low: 2, high: 2, count: 3 * cpus, label: '2' });
  assert.equal(runCli('hist', 'pinned', path.join(dir, 'slots'), '--section', 'cpu').status, 2);
});

test('bucket ranges and labels of each layout', () => {
  const label = (slot: number, layout: Parameters<typeof histogramBucket>[2]): string => histogramBucket(slot, 0n, layout).label;
  // libbpf-tools' log2(): slot 0 holds 0 and 1; bcc's bpf_log2l(): slot 1 does.
  assert.deepEqual(histogramBucket(0, 5n, 'libbpf-log2'), { slot: 0, low: 0n, high: 1n, count: 5n, label: '0 -> 1' });
  assert.deepEqual(histogramBucket(3, 1n, 'libbpf-log2'), { slot: 3, low: 8n, high: 15n, count: 1n, label: '8 -> 15' });
  assert.deepEqual(histogramBucket(1, 1n, 'bcc-log2'), { slot: 1, low: 0n, high: 1n, count: 1n, label: '0 -> 1' });
  assert.deepEqual(histogramBucket(4, 1n, 'bcc-log2'), { slot: 4, low: 8n, high: 15n, count: 1n, label: '8 -> 15' });
  assert.deepEqual([0, 1, 2, 3, 4, 12, 13, 22, 42].map((slot) => label(slot, 'bpftrace-hist')),
    ['(..., 0)', '[0]', '[1]', '[2, 4)', '[4, 8)', '[1K, 2K)', '[2K, 4K)', '[1M, 2M)', '[1T, 2T)']);
  assert.deepEqual(histogramBucket(4, 2n, 'bpftrace-hist'), { slot: 4, low: 4n, high: 7n, count: 2n, label: '[4, 8)' });
  const lhist = { kind: 'bpftrace-lhist', min: 0, max: 4096, step: 1024 } as const;
  assert.deepEqual([0, 1, 2, 4, 5].map((slot) => label(slot, lhist)), ['(..., 0)', '[0, 1K)', '[1K, 2K)', '[3K, 4K)', '[4K, ...)']);
  assert.deepEqual(histogramBucket(5, 1n, lhist), { slot: 5, low: 4096n, high: null, count: 1n, label: '[4K, ...)' });
  assert.throws(() => histogramBucket(0, 0n, { kind: 'bpftrace-lhist', min: 5, max: 5, step: 1 }), { code: 'ERR_BPFMAP_HISTOGRAM' });
  assert.throws(() => histogramBucket(0, 0n, 'log3' as never), { code: 'ERR_BPFMAP_HISTOGRAM' });
  assert.deepEqual(histogramOf([0n, 0n, 3n, 0n, 1n], 'libbpf-log2').buckets.map((bucket) => bucket.slot), [2, 3, 4]);
  assert.equal(histogramOf([0n, 0n, 3n, 0n, 1n], 'libbpf-log2').total, 4n);
});

test('libbpf-tools text starts at slot 0 with its own header and integer bars', () => {
  assert.deepEqual(libbpfLog2Text([1n, 0n, 3n], 'usecs'), [
    '     usecs               : count    distribution',
    '         0 -> 1          : 1        |*************                           |',
    '         2 -> 3          : 0        |                                        |',
    '         4 -> 7          : 3        |****************************************|',
  ]);
});

test('hist --section on a struct field prints it as JSON, never [object Object]', needs(), (t) => {
  const dir = pinDir(t, 'cli-hist-addr');
  using map = createWithRecords({ type: 'hash', maxEntries: 8, name: 'cli_hist_addr' }, {
    key: BpfRecord.define([['addr', '4B'], ['slot', 'I']]),
    value: BpfRecord.define([['count', 'Q']]),
  });
  map.set({ addr: [10, 0, 0, 1], slot: 2 }, { count: 3n });
  map.set({ addr: [10, 0, 0, 2], slot: 1 }, { count: 1n });
  map.pin(path.join(dir, 'addr'));
  const text = runCli('hist', 'pinned', path.join(dir, 'addr'), '--section', 'addr');
  assert.equal(text.status, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /object Object/);
  assert.match(text.stdout, /^addr = \[10,0,0,1\]$/m);
  assert.match(text.stdout, /^addr = \[10,0,0,2\]$/m);
  const missing = runCli('hist', 'pinned', path.join(dir, 'addr'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /the key is a struct \(addr, slot\): name the field\(s\) that split histograms with --section FIELD/);
});
