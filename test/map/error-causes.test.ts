/**
 * Errors whose errno misleads, each named by its real cause: a pin outside bpffs (EPERM, not a
 * missing capability), a pin into a missing folder (ENOENT, not "no such key"), a folder or a
 * non-bpffs file opened as a pin (EACCES, not a permission problem), 'lock' on a map without a
 * bpf_spin_lock, an unknown BTF id (not "map id"), and a frozen ring buffer's mapping. Also: a
 * BTF value with a bpf_spin_lock is written without naming the lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, BpfError, RingBuffer, btfFromId, createWithRecords, BpfRecord } from '../../src/index.js';
import { needs, pinDir, tempDir } from '../helpers.js';
import { loadFixture } from '../events/fixtures.js';

function bpfError(code: string, command: string, pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof BpfError, `a BpfError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.command, command);
    assert.match(error.message, pattern);
    return true;
  };
}

test('pinning outside bpffs or into a missing folder says so, and pins nothing', needs(), (t) => {
  const plain = tempDir(t, 'pin-outside');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2, name: 'err_pin' });
  const outside = path.join(plain, 'counts');
  assert.throws(() => map.pin(outside), bpfError('EPERM', 'OBJ_PIN', new RegExp(`${plain} is not on a bpf file system: .*mount -t bpf bpf /sys/fs/bpf`)));
  assert.equal(existsSync(outside), false);
  const missing = path.join(pinDir(t, 'pin-missing'), 'no', 'such');
  assert.throws(() => map.pin(path.join(missing, 'counts')), bpfError('ENOENT', 'OBJ_PIN', new RegExp(`the folder ${missing} does not exist .*mkdir -p`)));
  assert.doesNotMatch((() => { try { map.pin(path.join(missing, 'counts')); } catch (e) { return String(e); } return ''; })(), /no such key|CAP_BPF/);
});

test('opening a folder or a file outside bpffs as a pin says it is not a pin', needs(), (t) => {
  const plain = tempDir(t, 'open-not-pin');
  const file = path.join(plain, 'file');
  writeFileSync(file, 'not a map');
  assert.throws(() => BpfMap.openPinned(file), bpfError('EACCES', 'OBJ_GET', new RegExp(`${file} is not on a bpf file system, so it is not a pinned object`)));
  const folder = pinDir(t, 'open-folder');
  mkdirSync(path.join(folder, 'sub'));
  assert.throws(() => BpfMap.openPinned(path.join(folder, 'sub')), bpfError('EACCES', 'OBJ_GET', /sub is a folder, not a pinned object/));
  assert.throws(() => BpfMap.openPinned(plain), bpfError('EACCES', 'OBJ_GET', /is a folder, not a pinned object/));
  for (const pattern of [/read\/write permission/, /CAP_BPF/]) {
    assert.throws(() => BpfMap.openPinned(file), (error: unknown) => !pattern.test(String(error)));
  }
});

test("'lock' on a BTF map whose value has no bpf_spin_lock names the missing lock", needs(), () => {
  const key = BpfRecord.define([['id', 'I']]);
  const value = BpfRecord.define([['count', 'Q']]);
  using map = createWithRecords({ type: 'hash', maxEntries: 2, name: 'err_lock' }, { key, value });
  assert.throws(() => map.set({ id: 1 }, { count: 1n }, 'lock'), bpfError('EINVAL', 'MAP_UPDATE_ELEM', /'lock' needs a value type .* bpf_spin_lock: this map's value type has none/));
  map.set({ id: 1 }, { count: 1n });
  assert.throws(() => map.get({ id: 1 }, 'lock'), bpfError('EINVAL', 'MAP_LOOKUP_ELEM', /this map's value type has none/));
});

test('btfFromId with an unknown id names a BTF object, not a map', needs(), () => {
  assert.throws(() => btfFromId(0xfffffff0), (error: unknown) => {
    bpfError('ENOENT', 'BTF_GET_FD_BY_ID', /no BTF object with id 4294967280/)(error);
    assert.doesNotMatch((error as Error).message, /map/);
    return true;
  });
});

test('a frozen ring buffer cannot be read, and the error says it is frozen', needs(), () => {
  using ring = BpfMap.create({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096, name: 'err_rb_frozen' });
  ring.freeze();
  assert.throws(() => RingBuffer.open(ring), (error: unknown) => {
    assert.ok(error instanceof BpfError);
    assert.equal(error.code, 'EPERM');
    assert.match(error.message, /ring buffer 'err_rb_frozen' is frozen/);
    assert.doesNotMatch(error.message, /CAP_BPF|root/);
    return true;
  });
});

test('a BTF value holding a bpf_spin_lock is written without naming the lock', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'spin_lock');
  using typed = BpfMap.openPinned(path.join(fixture.maps, 'counters')).typed<number, { lock?: { val: number }; pad: number; a: bigint; b: bigint }>();
  typed.set(1, { pad: 0, a: 3n, b: 4n });
  assert.deepEqual(typed.get(1), { lock: { val: 0 }, pad: 0, a: 3n, b: 4n });
  typed.set(1, { pad: 0, a: 5n, b: 6n }, 'lock');
  assert.deepEqual(typed.get(1, 'lock'), { lock: { val: 0 }, pad: 0, a: 5n, b: 6n });
  // Other members stay required.
  assert.throws(() => typed.set(1, { pad: 0, a: 1n } as { pad: number; a: bigint; b: bigint }), /\.b: missing/);
});
