/**
 * The raw addon holds its own invariants (#10 items 3 and 5, and the fuzz test): forged and
 * mismatched externals and holders, handles of the wrong kind, closed handles, and random
 * arguments to every export are typed errors or -errno, never a crash or a write outside a
 * buffer. valgrind.test.ts runs this file under valgrind too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { closeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native, NativeKind, type NativeBatchReader, type NativeMapping, type NativeObject, type NativeWatcher } from '../../src/sys/native.js';
import { createdRawMap, mapCreateAttr } from './raw-map.js';
import { needs, pinDir } from '../helpers.js';

/** A typed error of the addon: TypeError/RangeError with an ERR_BPFMAP_* code. */
function coded(pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    const e = error as Error & { code?: unknown };
    return (e instanceof TypeError || e instanceof RangeError) && typeof e.code === 'string' && e.code.startsWith('ERR_BPFMAP_') && (pattern === undefined || pattern.test(e.message));
  };
}

const ARRAY = 2;
const RINGBUF = 27;
const MMAPABLE = 1 << 10;

test('munmap refuses forged holders and tokens of other kinds, and keeps the mapping', needs(), () => {
  const map = createdRawMap(ARRAY, 4, 8, 512, MMAPABLE);
  const mapping = native.mmap(map, 4096, true, 0) as NativeMapping;
  assert.notEqual(typeof mapping, 'number');
  const bytes = new Uint8Array(mapping.buffer);
  bytes[10] = 42;
  // The reproduction: a forged holder naming a real token.
  assert.throws(() => native.munmap({ buffer: new ArrayBuffer(8), token: mapping.token }), coded(/not the one mmap returned/));
  assert.throws(() => native.munmap({ buffer: mapping.buffer, token: {} }), coded(/not a mapping token/));
  assert.throws(() => native.munmap({ buffer: mapping.buffer, token: map } as unknown as NativeMapping), coded(/not a mapping token/));
  assert.throws(() => native.munmap(null as unknown as NativeMapping), coded());
  // A watcher passed as a token, and a token passed as a watcher.
  const ring = createdRawMap(RINGBUF, 0, 0, 4096);
  const watcher = native.watchFd(ring, () => {}, false) as NativeWatcher;
  const epoll = native.epollCreate() as NativeObject<'epoll'>;
  assert.notEqual(typeof watcher, 'number');
  assert.throws(() => native.munmap({ buffer: mapping.buffer, token: watcher }), coded(/not a mapping token/));
  assert.throws(() => native.watchStart(mapping.token as NativeWatcher, false), coded(/expected a watcher/));
  assert.throws(() => native.watchClose(map as unknown as NativeWatcher), coded(/expected a watcher/));
  // A handle of one kind where another is expected.
  assert.throws(() => native.epollWait(map as unknown as NativeObject<'epoll'>, new Uint32Array(1), 0), coded(/epoll instance handle/));
  assert.throws(() => native.perfEventEnable(map as unknown as NativeObject<'perfEvent'>), coded(/perf event handle/));
  assert.throws(() => native.mmap(watcher as unknown as NativeObject, 4096, true, 0), coded(/BPF object handle/));
  assert.throws(() => native.mapBind(epoll as unknown as NativeObject<'map'>), coded(/map handle/));
  assert.throws(() => native.mapBind({} as NativeObject<'map'>), coded(/map handle/));
  native.objClose(epoll);
  // The mapping is untouched: still readable, still the map's memory.
  assert.equal(bytes[10], 42);
  assert.equal(native.munmap(mapping), 0);
  assert.equal(bytes.length, 0, 'unmapped: views detached');
  native.watchClose(watcher);
  native.objClose(ring);
  native.objClose(map);
});

test('unmap, a turn, then unmap and close again: idempotent, no freed record', needs(), async () => {
  const map = createdRawMap(ARRAY, 4, 8, 512, MMAPABLE);
  const mapping = native.mmap(map, 4096, true, 0) as NativeMapping;
  assert.equal(native.munmap(mapping), 0);
  await turn();
  // The ArrayBuffer's memory may be released now; the token still holds the record.
  (globalThis as { gc?: () => void }).gc?.();
  await turn();
  assert.equal(native.munmap(mapping), 0);
  assert.equal(native.munmap(mapping), 0);
  assert.equal(native.objClose(map), 0);
  assert.equal(native.objClose(map), 0);
  assert.throws(() => native.mmap(map, 4096, true, 0), coded(/closed/));
});

test('a closed handle is ERR_BPFMAP_CLOSED everywhere it is an argument', needs(), () => {
  const map = createdRawMap(ARRAY, 4, 4, 4);
  const outer = createdRawMap(12 /* array_of_maps */, 4, 4, 4, 0, map);
  native.objClose(map);
  const closed = coded(/closed/);
  assert.throws(() => native.mapBind(map), closed);
  assert.throws(() => native.objInfo(map, new Uint8Array(80)), closed);
  assert.throws(() => native.objPin(map, '/sys/fs/bpf/never'), closed);
  assert.throws(() => native.objPublicFd(map), closed);
  assert.throws(() => native.objDup(map), closed);
  assert.throws(() => native.mmap(map, 4096, false, 0), closed);
  assert.throws(() => native.watchFd(map, () => {}, false), closed);
  assert.throws(() => native.mapCreate(mapCreateAttr(12, 4, 4, 4), map, null), closed);
  const binding = native.mapBind(native.objDup(outer) as NativeObject<'map'>);
  assert.notEqual(typeof binding, 'number');
  const { id } = binding as Exclude<typeof binding, number>;
  assert.throws(() => native.mapUpdateStagedObject(id, map, 0), closed);
  native.objClose(outer);
  native.mapClose(id);
  assert.equal(native.mapLookupStaged(id, 0), -9, 'a closed binding is EBADF');
});

test('the public fd is the map\'s own dup: closing it never reaches the private fd', needs(), () => {
  const map = createdRawMap(ARRAY, 4, 16, 4);
  const binding = native.mapBind(map);
  assert.notEqual(typeof binding, 'number');
  const { id, staging, valueOffset } = binding as Exclude<typeof binding, number>;
  const publicFd = native.objPublicFd(map);
  assert.ok(publicFd > 2);
  assert.equal(native.objPublicFd(map), publicFd, 'made once');
  // Close the public number and let a map with 64 KiB values take it.
  const checked = native.objFromFd(publicFd, NativeKind.map);
  assert.notEqual(typeof checked, 'number', 'a checked dup works while the number is open');
  native.objClose(checked as NativeObject);
  closeSync(publicFd);
  assert.equal(native.objFromFd(publicFd, NativeKind.map), -9, 'EBADF once closed');
  const big = createdRawMap(ARRAY, 4, 65536, 1);
  // The old reproduction: the kernel wrote 64 KiB into the 16-byte staging value.
  new Uint8Array(staging, valueOffset, 16).fill(7);
  assert.equal(native.mapUpdateStaged(id, 0), 0);
  new Uint8Array(staging, valueOffset, 16).fill(0);
  assert.equal(native.mapLookupStaged(id, 0), 0);
  assert.deepEqual([...new Uint8Array(staging, valueOffset, 16)], new Array(16).fill(7));
  native.objClose(big);
  native.objClose(map);
});

test('a staging view outlives its map: closed, the binding collected, the memory stays the view\'s', needs(), async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let collected = false;
  const registry = new FinalizationRegistry(() => {
    collected = true;
  });
  let kept = new Uint8Array(0);
  const size = (): number => {
    const map = createdRawMap(ARRAY, 4, 200, 4);
    const binding = native.mapBind(map);
    if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
    const view = new Uint8Array(binding.staging);
    view.fill(0x3c);
    native.mapClose(binding.id);
    native.objClose(map);
    registry.register(binding, 0);
    kept = view;
    return view.length;
  };
  const length = size();
  for (let i = 0; i < 40 && !collected; i++) {
    gc();
    await turn();
  }
  assert.ok(collected, 'the binding object was collected');
  for (let i = 0; i < 3; i++) await turn(); // the addon's finalizer runs after the object is gone
  // Freed memory of this size would be handed to the next bindings' staging areas.
  const others = Array.from({ length: 16 }, () => {
    const map = createdRawMap(ARRAY, 4, 200, 4);
    const binding = native.mapBind(map);
    if (typeof binding === 'number') assert.fail(`mapBind failed: ${binding}`);
    new Uint8Array(binding.staging).fill(0x11);
    return { map, binding };
  });
  assert.equal(kept.length, length);
  assert.ok(kept.every((byte) => byte === 0x3c), 'the kept view still reads its own bytes');
  kept.fill(0xa5); // under valgrind, a write to freed memory would fail here
  for (const { map, binding } of others) {
    assert.ok(new Uint8Array(binding.staging).every((byte) => byte === 0x11), 'no other staging area changed');
    assert.equal(native.mapLookupStaged(binding.id, 0), -2, 'a staged key 0x11111111 is not in a 4-entry array');
    native.mapClose(binding.id);
    native.objClose(map);
  }
});

/** Every export of the addon and a pool of arguments: real handles of each kind (open and closed), forged ones, junk. */
test('fuzz: random arguments to every export are typed errors or results, never a crash', needs(), (t) => {
  const budgetMs = Number(process.env.BPFMAP_FUZZ_MS ?? 4000);
  let seed = Number(process.env.BPFMAP_FUZZ_SEED ?? Date.now() % 2 ** 31) >>> 0 || 1;
  const random = (): number => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed / 2 ** 32;
  };
  const startSeed = seed;
  const dir = pinDir(t, 'native-fuzz');
  const sentinel = createdRawMap(ARRAY, 4, 8, 1);
  const sentinelBinding = native.mapBind(sentinel) as Exclude<ReturnType<typeof native.mapBind>, number>;
  new Uint8Array(sentinelBinding.staging, sentinelBinding.valueOffset, 8).fill(0x5a);
  assert.equal(native.mapUpdateStaged(sentinelBinding.id, 0), 0);

  const maps = [createdRawMap(ARRAY, 4, 8, 16, MMAPABLE), createdRawMap(1 /* hash */, 8, 32, 16), createdRawMap(6 /* percpu_array */, 4, 12, 4), createdRawMap(RINGBUF, 0, 0, 4096)];
  maps.push(createdRawMap(12 /* array_of_maps */, 4, 4, 2, 0, maps[0]!));
  const closedMap = createdRawMap(ARRAY, 4, 4, 1);
  native.objClose(closedMap);
  const epoll = native.epollCreate() as NativeObject<'epoll'>;
  const perf = native.perfEventOpen(0, 1, false);
  const mappings = [native.mmap(maps[0]!, 4096, true, 0) as NativeMapping];
  const bindings = maps.slice(0, 3).map((m) => native.mapBind(native.objDup(m) as NativeObject<'map'>) as Exclude<ReturnType<typeof native.mapBind>, number>);
  const watchers: unknown[] = [native.watchFd(maps[3]!, () => {}, false)];
  // Batch readers: one open (maybe with a batch in flight when a fuzzed call comes), one closed.
  const readers = [native.batchReaderOpen(maps[1]!, 4), native.batchReaderOpen(maps[0]!, 16)] as NativeBatchReader[];
  native.batchReaderStart(readers[0]!);
  native.batchReaderClose(readers[1]!);
  const pool: unknown[] = [
    0, 1, -1, 3, 24, 27, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), NaN, Infinity, 1.5, 10n, -1n, '', 'x', 'a\0b', `${dir}/p`, '/nonexistent/dir/p',
    null, undefined, true, false, {}, [], [maps[0]], () => {}, Symbol('s'),
    new Uint8Array(0), new Uint8Array(4), new Uint8Array(7), new Uint8Array(64), new Uint8Array(4096).fill(0xff), new Uint32Array(1), new Uint32Array(64),
    new BigUint64Array(2), new DataView(new ArrayBuffer(16)), new Uint8Array(new SharedArrayBuffer(128)), new ArrayBuffer(8),
    ...maps, closedMap, epoll, perf, sentinel,
    ...mappings, ...mappings.map((m) => m.token), ...mappings.map((m) => m.buffer), { buffer: new ArrayBuffer(8), token: mappings[0]!.token },
    ...bindings.map((b) => b.id), ...bindings, ...watchers, ...readers, { id: 1 }, Object.create(Uint8Array.prototype),
  ];
  const exports = Object.keys(native).filter((name) => typeof (native as unknown as Record<string, unknown>)[name] === 'function');
  const pick = (): unknown => pool[Math.floor(random() * pool.length)];
  const deadline = Date.now() + budgetMs;
  let calls = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 50; i++, calls++) {
      const name = exports[Math.floor(random() * exports.length)]!;
      const args = Array.from({ length: Math.floor(random() * 11) }, pick);
      // epollWait must not block the test; a real epoll with a finite wait is still fuzzed.
      if (name === 'epollWait') args[2] = 0;
      // Attach and detach act on real targets: an interface index that names no interface, so a
      // fuzzed detach can never take a program off an interface of the host (tcx detach needs none).
      if (name === 'progAttach' || name === 'progDetach') args[2] = 0x7fff_fff0;
      // Closing the sentinel would end the check below; everything else may be closed.
      if ((name === 'objClose' || name === 'mapClose') && (args[0] === sentinel || args[0] === sentinelBinding.id)) continue;
      // New fds: watchers are closed at the end, other new handles by the collector.
      try {
        const result = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
        if (name === 'watchFd' && typeof result !== 'number') watchers.push(result);
        // New fds go at once, so the fuzz cannot run the process out of them.
        if (name === 'objExportFd' && typeof result === 'number' && result > 2) closeSync(result);
        if (CREATES.has(name) && typeof result === 'object' && result !== null && !pool.includes(result)) native.objClose(result as NativeObject);
        // A reader owns a thread once started: close it now rather than at some later GC.
        if (name === 'batchReaderOpen' && typeof result === 'object' && result !== null) native.batchReaderClose(result as NativeBatchReader);
        if (typeof result !== 'number' && result !== undefined && typeof result !== 'boolean' && typeof result !== 'string' && typeof result !== 'object') {
          assert.fail(`${name} returned ${typeof result}`);
        }
      } catch (error) {
        if (!coded()(error)) {
          assert.fail(`seed ${startSeed}: ${name}(${args.map((a) => typeof a).join(', ')}) threw ${String(error)} (${(error as { code?: string }).code})`);
        }
      }
    }
    // Nothing wrote into another map: the sentinel still holds its value.
    new Uint8Array(sentinelBinding.staging, sentinelBinding.valueOffset, 8).fill(0);
    assert.equal(native.mapLookupStaged(sentinelBinding.id, 0), 0);
    assert.deepEqual([...new Uint8Array(sentinelBinding.staging, sentinelBinding.valueOffset, 8)], new Array(8).fill(0x5a), `seed ${startSeed}`);
  }
  for (const watcher of watchers) {
    try {
      native.watchClose(watcher as NativeWatcher);
    } catch {
      // a -errno from watchFd
    }
  }
  for (const mapping of mappings) native.munmap(mapping);
  for (const reader of readers) native.batchReaderClose(reader);
  for (const handle of [...maps, epoll, sentinel]) native.objClose(handle);
  if (typeof perf !== 'number') native.objClose(perf);
  t.diagnostic(`${calls} calls, seed ${startSeed}`);
  assert.ok(calls > 0);
});

/** Exports that return a new handle. */
const CREATES = new Set(['mapCreate', 'objGet', 'objGetById', 'objFromFd', 'objDup', 'btfLoad', 'epollCreate', 'perfEventOpen', 'progLoad', 'progFromId', 'linkGetPinned', 'linkFromId']);
