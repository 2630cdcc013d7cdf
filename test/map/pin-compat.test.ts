/**
 * `BpfMap.openOrCreatePinned` with BTF in the spec: a pin is reused when its key and value BTF
 * types lay out and name their bytes as the spec's do (a BTF object loaded again, with other ids,
 * is the same), and refused with a PinMismatchError naming the type that differs, or saying that
 * the pin has no BTF at all; the pin is left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, BpfRecord, PinMismatchError, btfForRecords, loadBtfIntoKernel, type MapSpec } from '../../src/index.js';
import { needs, pinDir } from '../helpers.js';

const key = BpfRecord.define([['pid', 'I'], ['comm', '16s']], { byteOrder: '@', strings: 'text' });
const value = BpfRecord.define([['packets', 'Q'], ['bytes', 'Q']], { byteOrder: '@' });
const renamed = BpfRecord.define([['packets', 'Q'], ['octets', 'Q']], { byteOrder: '@' });

/** A spec whose BTF (loaded now, so a new BTF object each call) types key and value as the records. */
function specWith<V>(valueRecord: BpfRecord<V>, fds: number[]): MapSpec {
  const { blob, keyTypeId, valueTypeId } = btfForRecords(key, valueRecord);
  const fd = loadBtfIntoKernel(blob);
  fds.push(fd);
  return { type: 'hash', keySize: key.size, valueSize: valueRecord.size, maxEntries: 16, name: 'pin_compat', btf: { fd, keyTypeId, valueTypeId } };
}

test('openOrCreatePinned compares BTF types: same layout reused, another refused naming it, none refused', needs(), (t) => {
  const dir = pinDir(t, 'pin-compat');
  const fds: number[] = [];
  t.after(() => fds.forEach((fd) => closeSync(fd)));
  const pin = path.join(dir, 'flows');

  using created = BpfMap.openOrCreatePinned(pin, specWith(value, fds));
  assert.notEqual(created.info.btfId, 0);
  created.set(new Uint8Array(key.size), new Uint8Array(value.size).fill(1));
  // The same types from a BTF object loaded again: the pin is reused.
  using reused = BpfMap.openOrCreatePinned(pin, specWith(value, fds));
  assert.equal(reused.id, created.id);

  // Same sizes, a member renamed: refused, naming the value type, and the pin is unchanged.
  assert.throws(() => BpfMap.openOrCreatePinned(pin, specWith(renamed, fds)), (error: unknown) => {
    assert.ok(error instanceof PinMismatchError);
    assert.equal(error.code, 'ERR_BPFMAP_PIN_MISMATCH');
    assert.deepEqual(error.differences.map((difference) => difference.field), ['valueType']);
    assert.match(String(error.differences[0]?.pinned), /bytes u64@64/);
    assert.match(String(error.differences[0]?.wanted), /octets u64@64/);
    assert.match(error.message, /valueType is struct value\/16 \{packets u64@0, bytes u64@64\} there but struct value\/16 \{packets u64@0, octets u64@64\} in the spec/);
    return true;
  });
  using again = BpfMap.openPinned(pin);
  assert.equal(again.id, created.id);
  assert.equal([...again.keys()].length, 1);

  // A pin of the same shape without BTF: refused, saying it has none.
  const plainPin = path.join(dir, 'plain');
  using plain = BpfMap.openOrCreatePinned(plainPin, { type: 'hash', keySize: key.size, valueSize: value.size, maxEntries: 16, name: 'pin_compat' });
  assert.equal(plain.info.btfId, 0);
  assert.throws(() => BpfMap.openOrCreatePinned(plainPin, specWith(value, fds)), (error: unknown) =>
    error instanceof PinMismatchError && error.differences.length === 1 && error.differences[0]?.field === 'btf' && error.differences[0].pinned === 'none' && /^key struct key\/20 \{pid u32@0, comm \[16\]/.test(String(error.differences[0].wanted)));
});
