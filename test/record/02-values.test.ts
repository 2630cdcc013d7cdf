/**
 * Record values: integers and bigints, floats, bools, chars and strings; errors that name the
 * field path and leave the target untouched; short buffers; offsets into larger buffers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpfRecord } from '../../src/index.js';

test('64-bit integers decode to bigint and accept bigint or safe-integer numbers', () => {
  const record = new BpfRecord([['u', 'Q'], ['s', 'q']], { byteOrder: '<' });
  const bytes = record.pack({ u: 0xffff_ffff_ffff_ffffn, s: -5 });
  assert.deepEqual(record.unpack(bytes), { u: 0xffff_ffff_ffff_ffffn, s: -5n });
  assert.throws(() => record.pack({ u: 2 ** 53, s: 0 }), { name: 'RangeError', message: /value\.u: expected a bigint or a safe integer/ });
  assert.throws(() => record.pack({ u: 1n << 64n, s: 0 }), { name: 'RangeError', message: /value\.u: expected an integer in \[0, 18446744073709551615\], got 18446744073709551616n/ });
  assert.throws(() => record.pack({ u: 1.5, s: 0 }), { name: 'TypeError', message: /value\.u: expected a bigint or an integer, got number 1\.5/ });
  assert.throws(() => record.pack({ u: '1', s: 0 } as never), { name: 'TypeError', code: 'ERR_BPFMAP_RECORD_TYPE' });
});

test('small integers: range checks at every width and sign', () => {
  const record = new BpfRecord([['b', 'b'], ['B', 'B'], ['h', 'h'], ['H', 'H'], ['i', 'i'], ['I', 'I']], { byteOrder: '>' });
  const extremes = { b: -128, B: 255, h: -32768, H: 65535, i: -(2 ** 31), I: 2 ** 32 - 1 };
  assert.deepEqual(record.unpack(record.pack(extremes)), extremes);
  assert.deepEqual(record.unpack(record.pack({ ...extremes, I: 7n } as never)), { ...extremes, I: 7 });
  for (const [field, bad] of [['b', 128], ['B', -1], ['h', 32768], ['H', 65536], ['i', 2 ** 31], ['I', -1]] as const) {
    assert.throws(() => record.pack({ ...extremes, [field]: bad }), { name: 'RangeError', code: 'ERR_BPFMAP_RECORD_RANGE', message: new RegExp(`^value\\.${field}: expected an integer in`) });
  }
});

test('floats: e (half), f and d, with overflow checks as in Python', () => {
  const record = new BpfRecord([['e', 'e'], ['f', 'f'], ['d', 'd']], { byteOrder: '<' });
  const value = { e: 1.5, f: 0.25, d: Math.PI };
  assert.deepEqual(record.unpack(record.pack(value)), value);
  // Bits checked against Python: struct.pack('<e', x).
  const half = new BpfRecord<number>('<e');
  const bits = (x: number): number => new DataView(half.pack(x).buffer).getUint16(0, true);
  assert.equal(bits(1), 0x3c00);
  assert.equal(bits(-2), 0xc000);
  assert.equal(bits(65504), 0x7bff);
  assert.equal(bits(2 ** -24), 0x0001);
  assert.equal(bits(0.1), 0x2e66);
  assert.equal(bits(1 + 2 ** -11), 0x3c00); // ties round to even
  assert.equal(bits(Infinity), 0x7c00);
  assert.equal(bits(-0), 0x8000);
  assert.ok(Number.isNaN(half.unpack(half.pack(NaN))));
  assert.equal(half.unpack(Uint8Array.of(0x01, 0x00)), 2 ** -24);
  assert.throws(() => half.pack(65520), { name: 'RangeError', message: /16-bit float range/ });
  assert.throws(() => record.pack({ ...value, f: 1e39 }), { name: 'RangeError', message: /value\.f: expected a number within the 32-bit float range/ });
  assert.equal(new BpfRecord<number>('f').unpack(new BpfRecord<number>('f').pack(Infinity)), Infinity);
});

test('bools and chars', () => {
  const record = new BpfRecord([['flag', '?'], ['letter', 'c']]);
  assert.deepEqual(record.unpack(record.pack({ flag: true, letter: 'A' })), { flag: true, letter: Uint8Array.of(65) });
  assert.deepEqual(record.unpack(Uint8Array.of(7, 66)), { flag: true, letter: Uint8Array.of(66) });
  assert.deepEqual(new BpfRecord([['letter', 'c']], { strings: 'text' }).unpack(Uint8Array.of(67)), { letter: 'C' });
  assert.throws(() => record.pack({ flag: 1, letter: 'A' } as never), { name: 'TypeError', message: /value\.flag: expected a boolean, got number 1/ });
  assert.throws(() => record.pack({ flag: true, letter: 'AB' }), { name: 'TypeError', message: /value\.letter: expected a Uint8Array of 1 byte/ });
});

test('s strings: bytes by default, NUL-trimmed UTF-8 with strings: text; short values pad with NUL', () => {
  const bytesRecord = new BpfRecord([['comm', '8s']]);
  const textRecord = new BpfRecord([['comm', '8s']], { strings: 'text' });
  const packed = bytesRecord.pack({ comm: 'bash' });
  assert.deepEqual(packed, Uint8Array.of(98, 97, 115, 104, 0, 0, 0, 0));
  assert.deepEqual(bytesRecord.unpack(packed), { comm: packed });
  assert.deepEqual(textRecord.unpack(packed), { comm: 'bash' });
  assert.deepEqual(textRecord.pack({ comm: Uint8Array.of(1, 2) }), Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0));
  assert.deepEqual(textRecord.unpack(textRecord.pack({ comm: 'héllo' })), { comm: 'héllo' });
  assert.throws(() => textRecord.pack({ comm: 'too long!' }), { name: 'RangeError', message: /^value\.comm: expected at most 8 bytes of UTF-8, got 9 bytes$/ });
  assert.throws(() => bytesRecord.pack({ comm: new Uint8Array(9) }), { name: 'RangeError', message: /value\.comm: expected at most 8 bytes, got 9 bytes/ });
});

test('p strings: a length byte, then the data, as Python packs them', () => {
  const record = new BpfRecord([['name', '6p']], { strings: 'text' });
  assert.deepEqual(record.pack({ name: 'abc' }), Uint8Array.of(3, 97, 98, 99, 0, 0));
  assert.deepEqual(record.unpack(Uint8Array.of(3, 97, 98, 99, 0, 0)), { name: 'abc' });
  // A length byte larger than the room is capped, as Python does.
  assert.deepEqual(record.unpack(Uint8Array.of(200, 97, 98, 99, 100, 101)), { name: 'abcde' });
  assert.throws(() => record.pack({ name: 'abcdef' }), { name: 'RangeError', message: /at most 5 bytes/ });
  assert.deepEqual(new BpfRecord([['n', '3p']]).unpack(Uint8Array.of(2, 7, 8)), { n: Uint8Array.of(7, 8) });
});

test('pad bytes: skipped on decode, written as zero on encode', () => {
  const record = new BpfRecord([['a', 'B'], ['gap', '3x'], ['b', 'B'], ['c', 'BxB']]);
  assert.deepEqual(record.unpack(Uint8Array.of(1, 9, 9, 9, 2, 3, 9, 4)), { a: 1, b: 2, c: [3, 4] });
  const target = new Uint8Array(8).fill(0xee);
  record.pack({ a: 1, b: 2, c: [3, 4] }, target);
  assert.deepEqual(target, Uint8Array.of(1, 0, 0, 0, 2, 3, 0, 4));
});

test('an error names the field path, says expected vs actual, and writes nothing', () => {
  const record = new BpfRecord([['key', [['uid', 'I']]], ['data', ['Q', 'Q', 'Q', 'Q']]]);
  const target = new Uint8Array(record.size + 4).fill(0xaa);
  const before = target.slice();
  const good = { key: { uid: 1 }, data: [1n, 2n, 3n, 4n] };
  const cases: Array<[unknown, { name: string; message: RegExp }]> = [
    [{ ...good, data: [1n, 2n, 3n, -4n] }, { name: 'RangeError', message: /^value\.data\[3\]: expected an integer in \[0, 18446744073709551615\], got -4n$/ }],
    [{ ...good, data: [1n, 2n, 3n, 4n, 5n] }, { name: 'RangeError', message: /^value\.data: expected 4 elements, got 5 \(too many\)$/ }],
    [{ ...good, data: [1n] }, { name: 'RangeError', message: /^value\.data: expected 4 elements, got 1 \(too few\)$/ }],
    [{ data: good.data }, { name: 'TypeError', message: /^value\.key: missing, expected an object$/ }],
    [{ ...good, key: {} }, { name: 'TypeError', message: /^value\.key\.uid: missing, expected an integer$/ }],
    [{ ...good, key: [1] }, { name: 'TypeError', message: /^value\.key: expected an object, got an array of 1$/ }],
    [{ ...good, data: 'abcd' }, { name: 'TypeError', message: /^value\.data: expected an array of 4, got string abcd$/ }],
    [null, { name: 'TypeError', message: /^value: expected an object, got null$/ }],
  ];
  for (const [value, expected] of cases) {
    assert.throws(() => record.pack(value as never, target, 2), expected);
    assert.deepEqual(target, before, `target changed after ${expected.message}`);
  }
  record.pack(good, target, 2);
  assert.deepEqual(record.unpack(target, 2), good);
  assert.equal(target[0], 0xaa);
  assert.equal(target[record.size + 2], 0xaa);
  // Typed arrays work as array values.
  record.pack({ ...good, data: BigUint64Array.of(5n, 6n, 7n, 8n) as never }, target, 0);
  assert.deepEqual((record.unpack(target) as { data: bigint[] }).data, [5n, 6n, 7n, 8n]);
});

test("the name option starts error paths (use 'key' for key records)", () => {
  const record = new BpfRecord([['uid', 'Q']], { name: 'key' });
  assert.throws(() => record.pack({ uid: -1 }), { message: /^key\.uid: / });
});

test('a short buffer or a bad offset throws instead of reading garbage', () => {
  const record = new BpfRecord([['a', 'Q'], ['b', 'I']]);
  assert.throws(() => record.unpack(new Uint8Array(11)), { name: 'RangeError', code: 'ERR_BPFMAP_RECORD_BUFFER', message: /cannot decode a 12-byte record at offset 0 of a buffer of 11 bytes/ });
  assert.throws(() => record.unpack(new Uint8Array(20), 9), { code: 'ERR_BPFMAP_RECORD_BUFFER' });
  assert.throws(() => record.unpack(new Uint8Array(20), -1), { code: 'ERR_BPFMAP_RECORD_BUFFER' });
  assert.throws(() => record.unpack(new Uint8Array(20), 1.5), { code: 'ERR_BPFMAP_RECORD_BUFFER' });
  assert.throws(() => record.pack({ a: 1, b: 2 }, new Uint8Array(12), 1), { code: 'ERR_BPFMAP_RECORD_BUFFER' });
  assert.throws(() => record.unpack([1, 2, 3] as never), { name: 'TypeError' });
});

test('decode reads views at any byteOffset of shared buffers', () => {
  const record = new BpfRecord([['a', 'H'], ['b', 'I']], { byteOrder: '<' });
  const backing = new Uint8Array(64);
  const view = backing.subarray(5, 30);
  record.pack({ a: 1, b: 2 }, view, 3);
  assert.deepEqual(record.unpack(backing, 8), { a: 1, b: 2 });
  assert.deepEqual(record.unpack(view, 3), { a: 1, b: 2 });
  assert.deepEqual(record.unpack(Buffer.from(backing.subarray(8, 14))), { a: 1, b: 2 });
});

test('an encode that re-enters the same record (through a getter) still works', () => {
  const record = new BpfRecord([['a', 'I'], ['b', 'I']], { byteOrder: '<' });
  const value = {
    a: 1,
    get b(): number {
      record.pack({ a: 100, b: 200 });
      return 2;
    },
  };
  assert.deepEqual(record.pack(value), Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0));
});
