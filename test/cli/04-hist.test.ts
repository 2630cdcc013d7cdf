/** `hist`: bcc's print_log2_hist / print_linear_hist layout, from maps keyed by slot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { linearHistText, log2HistText } from '../../src/cli/histogram.js';
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
