import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { needs, pinDir, u32le, u64le, readU64 } from '../helpers.js';

test('mmap gives a zero-copy view that tracks get and set both ways', needs(), () => {
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 12, maxEntries: 100, mmapable: true });
  const values = map.mmap();
  assert.equal(values.stride, 16, 'stride is roundup(value_size, 8)');
  assert.equal(values.length, 100);
  assert.equal(values.writable, true);
  map.set(u32le(7), Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9));
  assert.equal(values.readU64(7), 1n);
  assert.equal(values.readU32(7, 8), 0x09090909);
  values.view.setBigUint64(42 * values.stride, 123456789012345n, true);
  assert.equal(readU64(map.get(u32le(42))!), 123456789012345n);
  values.write(3, new Uint8Array(12).fill(5));
  assert.deepEqual(map.get(u32le(3)), new Uint8Array(12).fill(5));
  assert.throws(() => values.readU64(100), /index expected an integer from 0 to 99/);
  assert.throws(() => values.readU64(0, 8), /offset expected/);
});

test('mmap is refused on maps that cannot be mapped', needs(), () => {
  using plain = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.throws(() => plain.mmap(), /MMAPABLE/);
  using hash = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.throws(() => hash.mmap(), /needs an array map/);
});

test('frozen maps map read-only, with no writable view handed out; read-only handles are refused clearly', needs(), (t) => {
  const dir = pinDir(t, 'mmap');
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, mmapable: true });
  map.set(u32le(1), u64le(99));
  map.pin(path.join(dir, 'm'));
  using ro = BpfMap.openPinned(path.join(dir, 'm'), { readOnly: true });
  assert.throws(() => ro.mmap(), /mmap needs a read-write handle/);
  map.freeze();
  const frozenValues = map.mmap();
  assert.equal(frozenValues.writable, false);
  assert.equal(frozenValues.readU64(1), 99n);
  assert.deepEqual(frozenValues.read(1), u64le(99));
  assert.throws(() => frozenValues.bytes, /read-only/);
  assert.throws(() => frozenValues.view, /read-only/);
  assert.throws(() => frozenValues.write(0, u64le(1)), /read-only/);
});

test('a writable mapping stops a later freeze (EBUSY) so it can never go stale-writable', needs(), () => {
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, mmapable: true });
  const values = map.mmap();
  assert.throws(() => map.freeze(), (e: unknown) => (e as { code?: string }).code === 'EBUSY');
  values.unmap();
  map.freeze();
  assert.equal(map.frozen, true);
});

test('close unmaps: views are detached and reads throw instead of touching memory', needs(), () => {
  const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, mmapable: true });
  const values = map.mmap();
  const bytes = values.bytes;
  map.set(u32le(0), u64le(5));
  assert.equal(values.readU64(0), 5n);
  map.close();
  assert.equal(values.unmapped, true);
  assert.equal(bytes.length, 0, 'old views are empty');
  // Every access is a coded error, not V8's detached-buffer TypeError.
  const closed = (e: Error & { code?: string }) => e.code === 'ERR_BPFMAP_CLOSED' && /unmapped/.test(e.message);
  assert.throws(() => values.readU64(0), closed);
  assert.throws(() => values.readU32(1), closed);
  assert.throws(() => values.read(2), closed);
  assert.throws(() => values.write(0, new Uint8Array(8)), closed);
  assert.throws(() => values.bytes, closed);
  assert.throws(() => values.view, closed);
  values.unmap();
});
