/**
 * The batch reader (native/batch_reader.c) at the raw addon: it reads what MAP_LOOKUP_BATCH
 * reads (hash, per-CPU hash, LRU hash, array, buckets that overflow a small batch), keeps working
 * on its own dup when the map is closed mid-batch, refuses wrong buffers without writing them,
 * refuses wrong externals and closed readers with typed errors, and neither the garbage collector
 * nor the end of a process or of a worker thread with a batch in flight crashes. valgrind.test.ts
 * runs this file under valgrind too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { native, type NativeBatchReader, type NativeObject } from '../../src/sys/native.js';
import { createdRawMap } from './raw-map.js';
import { Command } from '../../src/sys/commands.js';
import { needs, repoRoot } from '../helpers.js';

const underValgrind = process.env.BPFMAP_UNDER_VALGRIND === '1';
const ENOENT = -2;
const ENOSPC = -28;

const HASH = 1;
const ARRAY = 2;
const PERCPU_HASH = 5;
const LRU_HASH = 9;
const DEVMAP = 14;

function code(expected: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    const e = error as Error & { code?: unknown };
    return (e instanceof TypeError || e instanceof RangeError) && e.code === expected && (pattern === undefined || pattern.test(e.message));
  };
}

/** Bytes of one value as the kernel writes it (per-CPU: roundup(valueSize, 8) per possible CPU). */
function stride(type: number, valueSize: number): number {
  return type === PERCPU_HASH ? Math.ceil(valueSize / 8) * 8 * native.possibleCpus() : valueSize;
}

/** A map of `count` entries: key i (little endian), value bytes derived from i and their index. */
function filled(type: number, keySize: number, valueSize: number, maxEntries: number, count: number): { map: NativeObject<'map'>; expected: Map<string, string> } {
  const map = createdRawMap(type, keySize, valueSize, maxEntries);
  const binding = native.mapBind(map);
  if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
  const key = new Uint8Array(keySize);
  const value = new Uint8Array(stride(type, valueSize));
  const expected = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    new DataView(key.buffer).setUint32(0, i * 2654435761 >>> 0, true);
    for (let b = 0; b < value.length; b++) value[b] = (i * 7 + b * 13) & 0xff;
    assert.equal(native.mapUpdate(binding.id, key, value, 0), 0);
    expected.set(Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex'));
  }
  return { map, expected };
}

/** Reads every entry through a reader the way a prefetching consumer does; ENOSPC grows the batch. */
function readAll(reader: NativeBatchReader, keySize: number, valueStride: number, capacity: number): { entries: Map<string, string>; grew: number } {
  const entries = new Map<string, string>();
  const countOut = new Uint32Array(1);
  let keys = new Uint8Array(capacity * keySize);
  let values = new Uint8Array(capacity * valueStride);
  let grew = 0;
  assert.equal(native.batchReaderStart(reader), 0);
  for (;;) {
    const rc = native.batchReaderFinish(reader, keys, values, countOut);
    const count = countOut[0]!;
    if (rc === ENOSPC && count === 0) {
      capacity *= 2;
      grew++;
      assert.equal(native.batchReaderResize(reader, capacity), 0);
      keys = new Uint8Array(capacity * keySize);
      values = new Uint8Array(capacity * valueStride);
      assert.equal(native.batchReaderStart(reader), 0);
      continue;
    }
    assert.ok(rc === 0 || rc === ENOENT, `batch rc ${rc}`);
    // The reader reads on by itself after a batch that succeeded; a start changes nothing, even
    // with a paused ENOSPC batch waiting behind this one (it must not be read again meanwhile).
    if (rc === 0) assert.equal(native.batchReaderStart(reader), 0);
    const batchKeys = keys.slice(0, count * keySize);
    const batchValues = values.slice(0, count * valueStride);
    for (let i = 0; i < count; i++) {
      const key = Buffer.from(batchKeys.subarray(i * keySize, (i + 1) * keySize)).toString('hex');
      assert.ok(!entries.has(key), `key ${key} read twice`);
      entries.set(key, Buffer.from(batchValues.subarray(i * valueStride, (i + 1) * valueStride)).toString('hex'));
    }
    if (rc === ENOENT) return { entries, grew };
  }
}

for (const [name, type, keySize, valueSize] of [
  ['hash', HASH, 4, 8], ['percpu_hash', PERCPU_HASH, 8, 12], ['lru_hash', LRU_HASH, 16, 3],
] as const) {
  test(`a reader reads every entry of a ${name} map, as the kernel stores them`, needs(), () => {
    const { map, expected } = filled(type, keySize, valueSize, 5000, 3000);
    const reader = native.batchReaderOpen(map, 256);
    if (typeof reader === 'number') assert.fail(`batchReaderOpen failed: ${reader}`);
    const { entries } = readAll(reader, keySize, stride(type, valueSize), 256);
    assert.equal(entries.size, expected.size);
    assert.deepEqual(entries, expected);
    // After the end: an immediate ENOENT with nothing, however often asked.
    const countOut = new Uint32Array([99]);
    assert.equal(native.batchReaderStart(reader), 0);
    assert.equal(native.batchReaderFinish(reader, new Uint8Array(256 * keySize), new Uint8Array(256 * stride(type, valueSize)), countOut), ENOENT);
    assert.equal(countOut[0], 0);
    assert.equal(native.batchReaderClose(reader), 0);
    native.objClose(map);
  });
}

test('a reader reads an array map, whose cursor is a key', needs(), () => {
  const { map } = filled(ARRAY, 4, 8, 1000, 0);
  const binding = native.mapBind(map);
  if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
  const expected = new Map<string, string>();
  for (let i = 0; i < 1000; i++) {
    const key = new Uint8Array(new Uint32Array([i]).buffer);
    const value = new Uint8Array(new Float64Array([i * 1.5]).buffer);
    assert.equal(native.mapUpdate(binding.id, key, value, 0), 0);
    expected.set(Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex'));
  }
  const reader = native.batchReaderOpen(map, 64) as NativeBatchReader;
  const { entries } = readAll(reader, 4, 8, 64);
  assert.deepEqual([...entries.keys()], [...expected.keys()], 'in index order');
  assert.deepEqual(entries, expected);
  native.batchReaderClose(reader);
  native.objClose(map);
});

test('a bucket fuller than the batch is ENOSPC with no entries; a bigger batch continues from the same bucket', needs(), () => {
  // 4000 keys in 4096 buckets: many buckets hold two or more, and a one-entry batch overflows.
  const { map, expected } = filled(HASH, 4, 4, 4096, 4000);
  const reader = native.batchReaderOpen(map, 1) as NativeBatchReader;
  const { entries, grew } = readAll(reader, 4, 4, 1);
  assert.ok(grew > 0, 'the batch grew');
  assert.deepEqual(entries, expected);
  native.batchReaderClose(reader);
  native.objClose(map);
});

test('closing the map with a batch in flight: the reader reads on through its own fd', needs(), () => {
  const { map, expected } = filled(HASH, 4, 8, 50_000, 40_000);
  const reader = native.batchReaderOpen(map, 1024) as NativeBatchReader;
  assert.equal(native.batchReaderStart(reader), 0);
  native.objClose(map);
  assert.throws(() => native.batchReaderOpen(map, 1), code('ERR_BPFMAP_CLOSED'));
  const keys = new Uint8Array(1024 * 4);
  const values = new Uint8Array(1024 * 8);
  const countOut = new Uint32Array(1);
  assert.equal(native.batchReaderFinish(reader, keys, values, countOut), 0);
  let total = countOut[0]!;
  for (;;) {
    const rc = native.batchReaderFinish(reader, keys, values, countOut);
    total += countOut[0]!;
    if (rc === ENOENT) break;
    assert.equal(rc, 0);
  }
  assert.equal(total, expected.size);
  native.batchReaderClose(reader);
});

test('a started reader reads two batches ahead, and no further', needs(), async () => {
  const { map, expected } = filled(HASH, 4, 8, 1024, 600);
  const binding = native.mapBind(map);
  if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
  const reader = native.batchReaderOpen(map, 100) as NativeBatchReader;
  assert.equal(native.batchReaderStart(reader), 0);
  // Two batches of 100 take well under a millisecond; valgrind runs a new thread's first code slowly.
  await new Promise((resolve) => setTimeout(resolve, underValgrind ? 5000 : 200));
  // Everything deleted after the reader filled its two slots: those keep what they read.
  for (const key of expected.keys()) assert.equal(native.mapDelete(binding.id, Buffer.from(key, 'hex')), 0);
  const keys = new Uint8Array(400);
  const values = new Uint8Array(800);
  const countOut = new Uint32Array(1);
  const counts: number[] = [];
  for (let rc = 0; rc === 0;) {
    rc = native.batchReaderFinish(reader, keys, values, countOut);
    assert.ok(rc === 0 || rc === ENOENT, `rc ${rc}`);
    counts.push(countOut[0]!);
  }
  assert.equal(counts.length, 3, `batches: ${counts.join(', ')}`);
  assert.ok(counts[0]! > 0 && counts[1]! > 0, 'two batches read ahead');
  assert.equal(counts[2], 0, 'the third was read after the deletes');
  native.batchReaderClose(reader);
  native.objClose(map);
});

test('a map type without batch lookups: the kernel\'s refusal, as mapBatch reports it', needs(), () => {
  const map = createdRawMap(DEVMAP, 4, 4, 8);
  const binding = native.mapBind(map);
  if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
  const plainCount = new Uint32Array(1);
  const plain = native.mapBatch(binding.id, Command.MAP_LOOKUP_BATCH, null, new Uint8Array(4), new Uint8Array(32), new Uint8Array(32), 8, 0, plainCount);
  const reader = native.batchReaderOpen(map, 8) as NativeBatchReader;
  const countOut = new Uint32Array(1);
  assert.equal(native.batchReaderStart(reader), 0);
  const rc = native.batchReaderFinish(reader, new Uint8Array(32), new Uint8Array(32), countOut);
  assert.ok(rc < 0 && rc !== ENOENT, `refused: ${rc}`);
  assert.equal(rc, plain);
  assert.equal(countOut[0], plainCount[0]);
  native.batchReaderClose(reader);
  native.objClose(map);
});

test('buffers too small at finish: a RangeError, nothing written, the batch kept for the right buffers', needs(), () => {
  const { map, expected } = filled(HASH, 4, 8, 100, 50);
  const reader = native.batchReaderOpen(map, 100) as NativeBatchReader;
  assert.equal(native.batchReaderStart(reader), 0);
  const shortKeys = new Uint8Array(399).fill(0xee);
  const shortValues = new Uint8Array(799).fill(0xee);
  const keys = new Uint8Array(400).fill(0xee);
  const values = new Uint8Array(800).fill(0xee);
  const countOut = new Uint32Array([7]);
  assert.throws(() => native.batchReaderFinish(reader, shortKeys, values, countOut), code('ERR_BPFMAP_BATCH', /100 keys of 4 bytes/));
  assert.throws(() => native.batchReaderFinish(reader, keys, shortValues, countOut), code('ERR_BPFMAP_BATCH', /100 values of 8 bytes/));
  assert.throws(() => native.batchReaderFinish(reader, keys, values, new Uint8Array(3) as unknown as Uint32Array), code('ERR_BPFMAP_BATCH'));
  assert.throws(() => native.batchReaderFinish(reader, null as unknown as Uint8Array, values, countOut), code('ERR_BPFMAP_BATCH'));
  assert.ok(shortKeys.every((b) => b === 0xee) && shortValues.every((b) => b === 0xee) && keys.every((b) => b === 0xee) && values.every((b) => b === 0xee), 'nothing written');
  assert.equal(countOut[0], 7);
  // A resize with a batch not collected is refused: its buffers hold that batch.
  assert.throws(() => native.batchReaderResize(reader, 200), code('ERR_BPFMAP_BATCH', /not collected/));
  assert.equal(native.batchReaderStart(reader), 0, 'a second start changes nothing');
  // A detached buffer has no bytes.
  const detached = new ArrayBuffer(400);
  const detachedKeys = new Uint8Array(detached);
  structuredClone(detached, { transfer: [detached] });
  assert.throws(() => native.batchReaderFinish(reader, detachedKeys, values, countOut), code('ERR_BPFMAP_BATCH'));
  assert.equal(native.batchReaderFinish(reader, keys, values, countOut), ENOENT);
  assert.equal(countOut[0], 50);
  native.batchReaderClose(reader);
  // A reader never started has nothing to finish.
  const idle = native.batchReaderOpen(map, 100) as NativeBatchReader;
  assert.throws(() => native.batchReaderFinish(idle, keys, values, countOut), code('ERR_BPFMAP_BATCH', /no batch started/));
  native.batchReaderClose(idle);
  native.objClose(map);
  assert.equal(expected.size, 50);
});

test('wrong externals and closed readers are typed errors', needs(), () => {
  const map = createdRawMap(HASH, 4, 8, 16);
  const binding = native.mapBind(map);
  if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
  const reader = native.batchReaderOpen(map, 16) as NativeBatchReader;
  const epoll = native.epollCreate() as NativeObject<'epoll'>;
  const handle = code('ERR_BPFMAP_HANDLE');
  const asReader = (v: unknown): NativeBatchReader => v as NativeBatchReader;
  // A map handle, a binding, its id, another kind of handle or external where a reader is expected.
  for (const wrong of [map, binding, binding.id, epoll, {}, null, undefined, 1, new Uint8Array(8)]) {
    assert.throws(() => native.batchReaderStart(asReader(wrong)), handle);
    assert.throws(() => native.batchReaderFinish(asReader(wrong), new Uint8Array(64), new Uint8Array(128), new Uint32Array(1)), handle);
    assert.throws(() => native.batchReaderResize(asReader(wrong), 4), handle);
    assert.throws(() => native.batchReaderClose(asReader(wrong)), handle);
  }
  // A reader where a map or another handle is expected.
  const asMap = reader as unknown as NativeObject<'map'>;
  assert.throws(() => native.batchReaderOpen(asMap, 4), handle);
  assert.throws(() => native.batchReaderOpen(epoll as unknown as NativeObject<'map'>, 4), handle);
  assert.throws(() => native.mapBind(asMap), handle);
  assert.throws(() => native.objClose(asMap), handle);
  assert.throws(() => native.objInfo(asMap, new Uint8Array(80)), handle);
  assert.throws(() => native.mmap(asMap, 4096, false, 0), handle);
  assert.throws(() => native.watchFd(asMap, () => {}, false), handle);
  // Bad capacities.
  for (const capacity of [0, -1, 1.5, 2 ** 32, NaN, '4', null]) {
    assert.throws(() => native.batchReaderOpen(map, capacity as number), code('ERR_BPFMAP_BATCH'));
    assert.throws(() => native.batchReaderResize(reader, capacity as number), code('ERR_BPFMAP_BATCH'));
  }
  assert.throws(() => native.batchReaderOpen(map, 2 ** 30), code('ERR_BPFMAP_BATCH', /bytes of buffers/));
  // Closed: idempotent close, and ERR_BPFMAP_CLOSED for everything else.
  assert.equal(native.batchReaderStart(reader), 0);
  assert.equal(native.batchReaderClose(reader), 0, 'closes with a batch in flight');
  assert.equal(native.batchReaderClose(reader), 0);
  const closed = code('ERR_BPFMAP_CLOSED', /batch reader is closed/);
  assert.throws(() => native.batchReaderStart(reader), closed);
  assert.throws(() => native.batchReaderFinish(reader, new Uint8Array(64), new Uint8Array(128), new Uint32Array(1)), closed);
  assert.throws(() => native.batchReaderResize(reader, 4), closed);
  native.objClose(epoll);
  native.mapClose(binding.id);
});

/** Runs `body` in a child node (ESM, --expose-gc) with `native` imported; its status and output. */
function child(body: string, timeout = 60_000): { status: number | null; signal: NodeJS.Signals | null; output: string } {
  const script = `
    import { native } from ${JSON.stringify(path.join(repoRoot, 'dist/src/sys/native.js'))};
    const attr = new Uint8Array(64);
    const view = new DataView(attr.buffer);
    view.setUint32(0, 1, true); view.setUint32(4, 4, true); view.setUint32(8, 64, true); view.setUint32(12, 200000, true);
    const map = native.mapCreate(attr, null, null);
    const binding = native.mapBind(map);
    const key = new Uint8Array(4), value = new Uint8Array(64);
    for (let i = 0; i < 200000; i++) { new DataView(key.buffer).setUint32(0, i, true); native.mapUpdate(binding.id, key, value, 0); }
    ${body}`;
  const result = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout });
  return { status: result.status, signal: result.signal, output: `${result.stdout}\n${result.stderr}` };
}

const childOptions = underValgrind ? { skip: 'child processes under valgrind' } : needs();

test('process exit with a batch in flight: a clean exit', childOptions, () => {
  // Big batches, so that the exit lands while the worker is in the kernel.
  const { status, signal, output } = child(`
    const reader = native.batchReaderOpen(map, 200000);
    native.batchReaderStart(reader);
    process.exit(0);`);
  assert.equal(signal, null, output);
  assert.equal(status, 0, output);
  const normal = child(`
    const reader = native.batchReaderOpen(map, 200000);
    native.batchReaderStart(reader);
    console.log('queued');`);
  assert.equal(normal.signal, null, normal.output);
  assert.equal(normal.status, 0, normal.output);
  assert.match(normal.output, /queued/);
});

test('readers dropped without close, in flight or idle, are collected without a crash', childOptions, () => {
  const { status, signal, output } = child(`
    const registry = new FinalizationRegistry(() => { collected++; });
    let collected = 0;
    for (let round = 0; round < 20; round++) {
      const reader = native.batchReaderOpen(map, 4096 * (1 + round % 3));
      if (round % 2 === 0) native.batchReaderStart(reader);
      registry.register(reader, round);
    }
    for (let i = 0; i < 50 && collected < 20; i++) { gc(); await new Promise((r) => setImmediate(r)); }
    // The map stays usable, and a new reader reads it whole.
    const reader = native.batchReaderOpen(map, 65536);
    const keys = new Uint8Array(65536 * 4), values = new Uint8Array(65536 * 64), countOut = new Uint32Array(1);
    let total = 0, rc = 0;
    do { native.batchReaderStart(reader); rc = native.batchReaderFinish(reader, keys, values, countOut); total += countOut[0]; } while (rc === 0);
    console.log(JSON.stringify({ collected, total, rc }));`);
  assert.equal(signal, null, output);
  assert.equal(status, 0, output);
  const result = JSON.parse(output.trim().split('\n')[0]!) as { collected: number; total: number; rc: number };
  assert.ok(result.collected >= 10, `collected ${result.collected} of 20`);
  assert.deepEqual({ total: result.total, rc: result.rc }, { total: 200000, rc: ENOENT });
});

test('a worker thread ending with a batch in flight: its environment\'s cleanup joins the reader', childOptions, () => {
  const { status, signal, output } = child(`
    import { Worker } from 'node:worker_threads';
    const source = ${JSON.stringify(`
      const { parentPort } = process.getBuiltinModule ? process.getBuiltinModule('node:worker_threads') : require('node:worker_threads');
      const addon = { exports: {} };
      process.dlopen(addon, ${JSON.stringify(path.join(repoRoot, 'build/Release/bpfmap_native.node'))});
      const native = addon.exports;
      const attr = new Uint8Array(64);
      const view = new DataView(attr.buffer);
      view.setUint32(0, 1, true); view.setUint32(4, 4, true); view.setUint32(8, 64, true); view.setUint32(12, 100000, true);
      const map = native.mapCreate(attr, null, null);
      const binding = native.mapBind(map);
      const key = new Uint8Array(4), value = new Uint8Array(64);
      for (let i = 0; i < 100000; i++) { new DataView(key.buffer).setUint32(0, i, true); native.mapUpdate(binding.id, key, value, 0); }
      const reader = native.batchReaderOpen(map, 100000);
      native.batchReaderStart(reader);
      parentPort.postMessage('started');
      while (true) {}
    `)};
    for (let i = 0; i < 3; i++) {
      const worker = new Worker(source, { eval: true });
      await new Promise((resolve) => worker.once('message', resolve));
      await worker.terminate();
    }
    console.log('terminated');`);
  assert.equal(signal, null, output);
  assert.equal(status, 0, output);
  assert.match(output, /terminated/);
});
