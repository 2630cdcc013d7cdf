/**
 * `bpfmap -j dump` prints bpftool's JSON byte for byte on the raw fast path (raw-json.ts): across
 * several output chunks (2 MB of text in 256 KiB chunks), for entries patched by generated straight-line
 * code and for entries too wide for it (the loop), hash and per-CPU maps alike. The map contents
 * make every byte value appear in keys and values, so every digit pair of the tables is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, needs, pinDir } from '../helpers.js';
import { runCli } from './run-cli.js';

/** Fills `count` entries whose bytes run through every value (key bytes unique per entry). */
function fill(map: BpfMap<Uint8Array, Uint8Array | Uint8Array[]>, count: number): void {
  const cpus = map.perCpu ? map.valueBufferSize / Math.ceil(map.valueSize / 8) / 8 : 1;
  const entries: Array<[Uint8Array, Uint8Array | Uint8Array[]]> = [];
  for (let i = 0; i < count; i++) {
    const key = new Uint8Array(map.keySize);
    new DataView(key.buffer).setUint32(0, i, true);
    for (let b = 4; b < key.length; b++) key[b] = (i * 7 + b) & 0xff;
    const values = Array.from({ length: cpus }, (_, cpu) => Uint8Array.from({ length: map.valueSize }, (_, b) => (i * 13 + b * 31 + cpu * 101) & 0xff));
    entries.push([key, map.perCpu ? values : values[0] as Uint8Array]);
  }
  map.setBatch(entries);
}

function assertSameBytes(pin: string): void {
  const ours = runCli('-j', 'dump', 'pinned', pin);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(ours.stdout, bpftool('-j', 'map', 'dump', 'pinned', pin), `-j dump pinned ${pin}`);
}

test('-j dump of raw entries is bpftool\'s text, byte for byte, across chunks and entry shapes', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-dump-bytes');
  const shapes = [
    // 20,000 entries of 104 bytes of text: eight 256 KiB chunks and part of a ninth.
    { name: 'many', spec: { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 20_000 }, count: 20_000 },
    // 96 digit pairs per entry: above the generated patch's limit, so the loop writes them.
    { name: 'wide', spec: { type: 'hash', keySize: 32, valueSize: 64, maxEntries: 600 }, count: 600 },
    // Per-CPU values: digit pairs come from every CPU's slot of the value buffer.
    { name: 'pcpu', spec: { type: 'percpu_hash', keySize: 4, valueSize: 12, maxEntries: 300 }, count: 300 },
    { name: 'pcpu_wide', spec: { type: 'percpu_hash', keySize: 8, valueSize: 40, maxEntries: 100 }, count: 100 },
  ] as const;
  for (const shape of shapes) {
    using map = BpfMap.create({ ...shape.spec, name: `bytes_${shape.name}` });
    fill(map, shape.count);
    const pin = path.join(dir, shape.name);
    map.pin(pin);
    assertSameBytes(pin);
  }
});

test('-j dump of an empty map is bpftool\'s `[]`', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-dump-bytes-empty');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'bytes_empty' });
  const pin = path.join(dir, 'empty');
  map.pin(pin);
  assertSameBytes(pin);
});
