import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, BpfError, MapType, MapFlags, mapTypeName } from '../../src/index.js';
import { needs, pinDir, u32le } from '../helpers.js';

test('create reports the attributes the kernel accepted', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 16, maxEntries: 64, name: 'bpfmap_info', flags: ['NO_PREALLOC'] });
  const info = map.info;
  assert.equal(info.type, MapType.hash);
  assert.equal(info.typeName, 'hash');
  assert.equal(info.name, 'bpfmap_info');
  assert.equal(info.keySize, 4);
  assert.equal(info.valueSize, 16);
  assert.equal(info.maxEntries, 64);
  assert.equal(info.flags, MapFlags.NO_PREALLOC);
  assert.equal(info.btfId, 0);
  assert.equal(info.frozen, false);
  assert.ok(info.id > 0);
  assert.ok(typeof info.memlock === 'number' && info.memlock > 0);
  assert.ok(map.fd > 2, 'fds are kept above stdio');
});

test('type accepts names, MapType values and numbers', needs(), () => {
  for (const type of ['array', MapType.array, 2] as const) {
    using map = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.equal(map.type, MapType.array);
  }
  assert.throws(() => BpfMap.create({ type: 'hashh' as 'hash', keySize: 4, valueSize: 4, maxEntries: 1 }), (e: Error) => e instanceof TypeError && /unknown map type 'hashh'/.test(e.message));
});

test('invalid specs are rejected before the kernel sees them', needs(), () => {
  // Maps shaped like the specs below (a hash of 4-byte keys and values, one entry): other processes
  // create maps at the same time, so only this shape is counted.
  const shaped = (): number => BpfMap.list().filter((m) => m.typeName === 'hash' && m.keySize === 4 && m.valueSize === 4 && m.maxEntries === 1).length;
  const before = shaped();
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'bad name!' }), /map name must be up to 15 characters/);
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'a'.repeat(16) }), RangeError);
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: -1, valueSize: 4, maxEntries: 1 }), /keySize must be an integer/);
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, flags: ['NOPE' as 'RDONLY'] }), /unknown map flag 'NOPE'/);
  assert.equal(shaped(), before);
});

test('a spec the kernel rejects gives BpfError with a hint', needs(), () => {
  assert.throws(
    () => BpfMap.create({ type: 'array', keySize: 8, valueSize: 4, maxEntries: 4 }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.command === 'MAP_CREATE' && /array needs keySize 4/.test(e.message),
  );
  assert.throws(
    () => BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 4 }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /NO_PREALLOC/.test(e.message),
  );
});

test('pin, openPinned, fromId, fromFd and fromName reach the same map', needs(), (t) => {
  const dir = pinDir(t, 'open');
  const pin = path.join(dir, 'm');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: `bm_open_${process.pid % 100000}` });
  map.set(u32le(1), u32le(100));
  map.pin(pin);
  assert.ok(existsSync(pin));
  using pinned = BpfMap.openPinned(pin);
  assert.equal(pinned.id, map.id);
  assert.deepEqual(pinned.get(u32le(1)), u32le(100));
  using byId = BpfMap.fromId(map.id);
  assert.equal(byId.name, map.name);
  using byFd = BpfMap.fromFd(map.fd);
  assert.notEqual(byFd.fd, map.fd, 'fromFd duplicates the fd');
  byFd.close();
  assert.deepEqual(map.get(u32le(1)), u32le(100), 'closing the duplicate leaves the original open');
  using byName = BpfMap.fromName(map.name);
  assert.equal(byName.id, map.id);
  const listed = BpfMap.list().find((info) => info.id === map.id);
  assert.equal(listed?.name, map.name);
  assert.ok(BpfMap.ids().next().value !== undefined);
});

test('missing pins, ids and names are ENOENT errors that say so', needs(), (t) => {
  const dir = pinDir(t, 'missing');
  assert.throws(() => BpfMap.openPinned(path.join(dir, 'nothing')), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /no map pinned at/.test(e.message));
  assert.throws(() => BpfMap.fromId(0xfffffff0), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /no map with id/.test(e.message));
  assert.throws(() => BpfMap.fromName('no_such_map_xyz'), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  assert.throws(() => BpfMap.openPinned(''), TypeError);
  assert.throws(() => BpfMap.openPinned(path.join(dir, 'x'), { readOnly: true, writeOnly: true }), /exclude each other/);
});

test('pinning over an existing pin is EEXIST', needs(), (t) => {
  const dir = pinDir(t, 'pin2');
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  map.pin(path.join(dir, 'a'));
  assert.throws(() => map.pin(path.join(dir, 'a')), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' && e.command === 'OBJ_PIN');
});

test('unknown map type numbers still print and open raw', needs(), () => {
  assert.equal(mapTypeName(999), '999');
  // devmap is a type with no special support here: it opens and works on raw bytes.
  using map = BpfMap.create({ type: 'devmap', keySize: 4, valueSize: 4, maxEntries: 4 });
  assert.equal(map.typeName, 'devmap');
  assert.equal(map.get(u32le(0)), undefined, 'an empty devmap slot is missing');
  map.set(u32le(0), u32le(1)); // ifindex 1 is the loopback device
  assert.deepEqual(map.get(u32le(0)), u32le(1));
  assert.equal(map.info.typeName, 'devmap');
});

test('freeze blocks user-space writes and shows in info', needs(), () => {
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
  map.set(u32le(0), u32le(7));
  map.freeze();
  assert.equal(map.frozen, true);
  assert.equal(map.info.frozen, true);
  assert.throws(() => map.set(u32le(0), u32le(8)), (e: unknown) => e instanceof BpfError && e.code === 'EPERM' && /frozen/.test(e.message));
  assert.deepEqual(map.get(u32le(0)), u32le(7));
});

test('a read-only handle cannot write', needs(), (t) => {
  const dir = pinDir(t, 'ro');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
  map.pin(path.join(dir, 'm'));
  using ro = BpfMap.openPinned(path.join(dir, 'm'), { readOnly: true });
  assert.throws(() => ro.set(u32le(1), u32le(1)), (e: unknown) => e instanceof BpfError && (e.code === 'EPERM' || e.code === 'EACCES'));
  assert.equal(map.get(u32le(1)), undefined);
});
