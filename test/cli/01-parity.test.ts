/**
 * `bpfmap` against `bpftool` on the same maps: dump, show, lookup and getnext output must be equal,
 * in JSON (parsed) and in text (byte for byte), for maps made by bpftool and by the library.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, bpftoolJson, needs, pinDir } from '../helpers.js';
import { cliJson, runCli } from './run-cli.js';

function bytesArgs(bytes: number[]): string[] {
  return bytes.map(String);
}

/** Both tools' outputs of one command, JSON and text. */
function assertSameOutput(bpftoolArgs: string[], bpfmapArgs: string[]): void {
  assert.deepEqual(cliJson(...bpfmapArgs), bpftoolJson(...bpftoolArgs), `-j ${bpfmapArgs.join(' ')}`);
  const text = runCli(...bpfmapArgs);
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stdout, bpftool(...bpftoolArgs), bpfmapArgs.join(' '));
}

test('maps made by bpftool: dump, show, lookup, getnext equal bpftool', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-parity');
  const maps: Array<{ name: string; create: string[]; entries: Array<[number[], number[]]> }> = [
    { name: 'hash', create: ['type', 'hash', 'key', '4', 'value', '8', 'entries', '16'], entries: [[[1, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]], [[2, 0, 0, 0], [255, 0, 0, 0, 0, 0, 0, 128]]] },
    { name: 'array', create: ['type', 'array', 'key', '4', 'value', '4', 'entries', '3'], entries: [[[1, 0, 0, 0], [9, 9, 9, 9]]] },
    { name: 'pcpu', create: ['type', 'percpu_hash', 'key', '4', 'value', '12', 'entries', '8'], entries: [[[7, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]] },
    { name: 'pcarr', create: ['type', 'percpu_array', 'key', '4', 'value', '20', 'entries', '2'], entries: [[[1, 0, 0, 0], Array.from({ length: 20 }, (_, i) => i)]] },
    { name: 'wide', create: ['type', 'hash', 'key', '20', 'value', '40', 'entries', '4'], entries: [[Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 40 }, (_, i) => 200 - i)]] },
    { name: 'mid', create: ['type', 'lru_hash', 'key', '12', 'value', '12', 'entries', '4'], entries: [[Array.from({ length: 12 }, (_, i) => i), Array.from({ length: 12 }, (_, i) => i * 3)]] },
  ];
  for (const map of maps) {
    const pin = path.join(dir, map.name);
    bpftool('map', 'create', pin, ...map.create, 'name', map.name);
    for (const [key, value] of map.entries) bpftool('map', 'update', 'pinned', pin, 'key', ...bytesArgs(key), 'value', ...bytesArgs(value));
    assertSameOutput(['map', 'dump', 'pinned', pin], ['dump', 'pinned', pin]);
    assertSameOutput(['map', 'show', 'pinned', pin], ['show', 'pinned', pin]);
    assertSameOutput(['-f', 'map', 'show', 'pinned', pin], ['-f', 'show', 'pinned', pin]);
    const first = map.entries[0];
    if (first) {
      assertSameOutput(['map', 'lookup', 'pinned', pin, 'key', ...bytesArgs(first[0])], ['lookup', 'pinned', pin, 'key', ...bytesArgs(first[0])]);
      assertSameOutput(['map', 'getnext', 'pinned', pin], ['getnext', 'pinned', pin]);
      // The key after a key that is not in the map is the first key, in both tools.
      const missing = first[0].map((byte) => byte ^ 0xff);
      assertSameOutput(['map', 'getnext', 'pinned', pin, 'key', ...bytesArgs(missing)], ['getnext', 'pinned', pin, 'key', ...bytesArgs(missing)]);
    }
  }
});

test('queues: peek and pop equal bpftool; push is what bpftool pops', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-queue');
  const pin = path.join(dir, 'queue');
  bpftool('map', 'create', pin, 'type', 'queue', 'key', '0', 'value', '4', 'entries', '4', 'name', 'cli_queue');
  bpftool('map', 'push', 'pinned', pin, 'value', '1', '2', '3', '4');
  assertSameOutput(['map', 'peek', 'pinned', pin], ['peek', 'pinned', pin]);
  assert.equal(runCli('push', 'pinned', pin, 'value', 'hex', 'a', 'b', 'c', 'd').status, 0);
  assert.deepEqual(cliJson('pop', 'pinned', pin), { key: [], value: ['0x01', '0x02', '0x03', '0x04'] });
  assert.deepEqual(bpftoolJson('map', 'pop', 'pinned', pin), { key: [], value: ['0x0a', '0x0b', '0x0c', '0x0d'] });
  const empty = runCli('-j', 'pop', 'pinned', pin);
  assert.equal(empty.status, 1);
  assert.equal(empty.stdout.trim(), 'null');
  assert.deepEqual(cliJson('dump', 'pinned', pin), []);
});

test('maps made by the library: dump and show equal bpftool, also by id and name', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-parity-lib');
  using map = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 16, maxEntries: 1024, name: 'cli_lib_hash' });
  for (let i = 0; i < 300; i++) {
    const key = new Uint8Array(8);
    new DataView(key.buffer).setBigUint64(0, BigInt(i) * 0x0101010101n, true);
    map.set(key, new Uint8Array(16).fill(i & 0xff));
  }
  const pin = path.join(dir, 'lib');
  map.pin(pin);
  assertSameOutput(['map', 'dump', 'pinned', pin], ['dump', 'pinned', pin]);
  assertSameOutput(['map', 'dump', 'id', String(map.id)], ['dump', 'id', String(map.id)]);
  assertSameOutput(['map', 'show', 'id', String(map.id)], ['show', 'id', String(map.id)]);
  // Small batches cross many batch boundaries and hash buckets; the entries stay the same set.
  assert.deepEqual(cliJson('dump', 'pinned', pin, '--batch', '7'), bpftoolJson('map', 'dump', 'pinned', pin));
  using pcpu = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'cli_lib_pcpu' });
  const pcpuPin = path.join(dir, 'pcpu');
  pcpu.pin(pcpuPin);
  assertSameOutput(['map', 'dump', 'pinned', pcpuPin], ['dump', 'pinned', pcpuPin]);
});

test('show lists every map bpftool shows', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-show');
  bpftool('map', 'create', path.join(dir, 'listed'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_listed');
  // An unnamed map among them: bpftool leaves its "name" out, and so must bpfmap.
  using unnamed = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const ours = cliJson<Array<{ id: number; name?: string }>>('show');
  assert.ok(ours.some((info) => info.id === unnamed.id && !('name' in info)));
  assert.ok(ours.some((info) => info.name === 'cli_listed'));
  // bpftool's own listing leaks btf_id from one map into the next (it reuses bpf_map_info without
  // zeroing it), so each map is compared with `bpftool map show id N`. Maps come and go while
  // other tests run: compare the ones that still exist.
  let compared = 0;
  for (const mine of [...ours.slice(-20), ...ours.filter((info) => info.id === unnamed.id)]) {
    let theirs: Record<string, unknown>;
    try {
      theirs = bpftoolJson('map', 'show', 'id', String(mine.id));
    } catch {
      continue;
    }
    // bpftool adds "pids" for maps that processes hold open; bpfmap does not list holders.
    delete theirs.pids;
    assert.deepEqual(mine, theirs);
    compared++;
  }
  assert.ok(compared > 0);
});
