/**
 * #10 items 1, 2, 4 and 6 through the public API: the addon acts only on fds it owns privately,
 * so closing `map.fd` (or any number) cannot redirect a map, a ring buffer, a perf buffer or a
 * mapping; closed objects passed as arguments are typed errors; info structs with pointers live
 * in addon memory; a false possible-CPU count in sysfs is an error, never an overflow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { BpfMap, PerfBuffer, RingBuffer } from '../../src/index.js';
import { native } from '../../src/sys/native.js';
import { Command } from '../../src/sys/commands.js';
import { needs, repoRoot, tempDir, u32le, u64le } from '../helpers.js';

const underValgrind = process.env.BPFMAP_UNDER_VALGRIND === '1';

function code(expected: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    const e = error as Error & { code?: unknown };
    return e.code === expected && (pattern === undefined || pattern.test(e.message));
  };
}

/** Closes the public fd the way an application's double close would, and lets new objects take the number. */
function closeAndReuse(fd: number): { big: BpfMap; file: number } {
  closeSync(fd);
  // The lowest free number goes first: the big map's private fd, or the file's.
  const big = BpfMap.create({ type: 'array', keySize: 4, valueSize: 65536, maxEntries: 1 });
  const file = openSync('/dev/null', 'r');
  return { big, file };
}

test('closing map.fd and reusing its number for a 64 KiB-value map: small.get still reads small', needs(), () => {
  const small = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 16, maxEntries: 4 });
  small.set(u32le(1), new Uint8Array(16).fill(3));
  const { big, file } = closeAndReuse(small.fd);
  try {
    big.set(u32le(0), new Uint8Array(65536).fill(9));
    // Before: the kernel wrote 64 KiB into small's 16-byte staging area (glibc abort).
    assert.deepEqual(small.get(u32le(1)), new Uint8Array(16).fill(3));
    small.set(u32le(2), new Uint8Array(16).fill(4));
    assert.equal(small.get(u32le(2))?.[15], 4);
    assert.equal(big.get(u32le(0))?.[65535], 9, 'the big map was not written through small');
    // close() closes the public fd only if it is still small's: the number now means something else.
    small.close();
    assert.doesNotThrow(() => fstatSync(file), 'the file that took a number was not closed');
    assert.equal(big.get(u32le(0))?.[0], 9, 'the big map is still open');
  } finally {
    closeSync(file);
    big.close();
  }
});

test('a mapping survives closing map.fd; unmap and close stay idempotent', needs(), () => {
  const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, mmapable: true });
  const values = map.mmap();
  map.set(u32le(1), u64le(77n));
  const { big, file } = closeAndReuse(map.fd);
  try {
    assert.equal(values.readU64(1), 77n);
    values.unmap();
    values.unmap();
    assert.throws(() => values.readU64(1), code('ERR_BPFMAP_CLOSED'));
    map.close();
    map.close();
    assert.doesNotThrow(() => fstatSync(file));
    assert.equal(big.get(u32le(0))?.length, 65536);
  } finally {
    closeSync(file);
    big.close();
  }
});

test('ring and perf buffers use their own handles: closing the map fd changes nothing', needs(), () => {
  const ring = BpfMap.create({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const events = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: 2 });
  const reader = RingBuffer.open(ring);
  const perf = PerfBuffer.open(events, { pagesPerCpu: 1 });
  const ringFd = ring.fd;
  const eventsFd = events.fd;
  closeSync(ringFd);
  closeSync(eventsFd);
  const { big, file } = closeAndReuse(openSync('/dev/null', 'r'));
  try {
    assert.equal(reader.poll(0, () => assert.fail("no records")), 0);
    assert.equal(perf.poll(0, () => assert.fail("no records")), 0);
    assert.equal(reader.hasPending(), false);
    reader.close();
    perf.close();
    ring.close();
    events.close();
    assert.doesNotThrow(() => fstatSync(file));
    assert.equal(big.get(u32le(0))?.length, 65536);
  } finally {
    closeSync(file);
    big.close();
  }
});

test('a closed map or fd as an argument is a typed error, and nothing changes', needs(), () => {
  const template = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const outer = BpfMap.create({ type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: template });
  const inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const ring = BpfMap.create({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const staleFd = inner.fd;
  inner.close();
  ring.close();
  // Something else now holds the old numbers: a closed map must not stand for it.
  const decoy = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    assert.throws(() => outer.setInnerMap(u32le(0), inner), code('ERR_BPFMAP_CLOSED'));
    assert.throws(() => outer.setFd(u32le(1), inner), code('ERR_BPFMAP_CLOSED'));
    assert.equal(outer.getId(u32le(0)), undefined, 'nothing was stored');
    assert.throws(() => BpfMap.create({ type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 1, innerMap: inner }), code('ERR_BPFMAP_CLOSED'));
    assert.throws(() => RingBuffer.open(ring), code('ERR_BPFMAP_CLOSED'));
    assert.throws(() => RingBuffer.open({ fd: template.fd }), code('ERR_BPFMAP_OPERATION', /needs a ringbuf/));
    // A number is the caller's: duplicated and checked at the call.
    const number = openSync('/dev/null', 'r');
    closeSync(number);
    assert.throws(() => RingBuffer.open({ fd: number }), code('ERR_BPFMAP_FD'));
    assert.throws(() => BpfMap.fromFd(number), code('ERR_BPFMAP_FD'));
    assert.equal(typeof staleFd, 'number');
    // The live objects still work.
    outer.setInnerMap(u32le(0), decoy);
    assert.equal(outer.getId(u32le(0)), decoy.id);
  } finally {
    decoy.close();
    outer.close();
    template.close();
  }
});

test('info structs with pointers live in addon memory: a worker racing a SharedArrayBuffer cannot aim the kernel', underValgrind ? { skip: 'workers under valgrind are too slow' } : needs(), async () => {
  // Any BTF object the kernel has (vmlinux first).
  const attr = new Uint8Array(12);
  assert.ok(native.bpfPlain(Command.BTF_GET_NEXT_ID, attr) >= 0, 'a BTF object exists');
  const btfId = new DataView(attr.buffer).getUint32(4, true);
  const btf = native.objGetById<'btf'>(Command.BTF_GET_FD_BY_ID, btfId, 0);
  assert.notEqual(typeof btf, 'number');
  const handle = btf as Exclude<typeof btf, number>;
  const shared = new SharedArrayBuffer(64);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  // The worker keeps writing bpf_btf_info's pointer and length fields: a user address (the
  // kernel would fault on it, EFAULT) and big sizes.
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const words = new BigUint64Array(workerData.shared);
     const stop = new Int32Array(workerData.stop);
     while (Atomics.load(stop, 0) === 0) { words[0] = 0x10000n; words[1] = 0x100000n; words[2] = 0x10000n; words[3] = 4096n; }`,
    { eval: true, workerData: { shared, stop: stop.buffer } },
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const info = new Uint8Array(shared, 0, 32);
    for (let i = 0; i < 20000; i++) {
      const rc = native.objInfo(handle, info);
      assert.ok(rc > 0, `call ${i}: objInfo returned ${rc} (EFAULT would mean the kernel followed a pointer from JavaScript)`);
    }
    const sizes = native.btfInfo(handle, null, null);
    assert.ok(Array.isArray(sizes) && sizes[0] > 0);
  } finally {
    Atomics.store(stop, 0, 1);
    await worker.terminate();
    native.objClose(handle);
  }
});

test('a false /sys/devices/system/cpu/possible is a typed error, never an overflow', underValgrind ? { skip: 'a child process under valgrind' } : needs('unshare'), (t) => {
  const kernelCpus = native.possibleCpus();
  assert.ok(kernelCpus > 0);
  const fake = path.join(tempDir(t, 'cpus'), 'possible');
  writeFileSync(fake, kernelCpus > 1 ? '0\n' : '0-7\n');
  const script = `
    import { BpfMap } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};
    const out = {};
    try {
      const map = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1 });
      out.get = String(map.get(new Uint8Array(4)));
    } catch (error) { out.code = error.code; out.message = error.message; }
    try {
      const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      out.plain = map.get(new Uint8Array(4)).length;
    } catch (error) { out.plainError = error.code; }
    console.log(JSON.stringify(out));`;
  const child = spawnSync(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind "$1" /sys/devices/system/cpu/possible && exec node --input-type=module -e "$2"`, 'sh', fake, script],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout) as { code?: string; message?: string; get?: string; plain?: number };
  assert.equal(out.code, 'ERR_BPFMAP_POSSIBLE_CPUS', JSON.stringify(out));
  assert.match(out.message ?? '', /disagrees with the kernel/);
  assert.equal(out.plain, 8, 'maps that are not per-CPU still work');
});
