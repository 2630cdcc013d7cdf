/**
 * Record templates and format strings: pybpfmap's examples, every format character's size in
 * every byte order, repeat counts, pads, nesting, and the errors a bad template gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpfRecord, arrayOf } from '../../src/index.js';

test('pybpfmap example: two B fields unpack [17, 46] and pack back', () => {
  const record = new BpfRecord([['field1', 'B'], ['field2', 'B']]);
  assert.equal(record.size, 2);
  assert.deepEqual(record.unpack(Uint8Array.of(17, 46)), { field1: 17, field2: 46 });
  assert.deepEqual(record.pack({ field1: 17, field2: 46 }), Uint8Array.of(17, 46));
});

test("the default byte order is '=' (no padding), as pybpfmap documents: B B H Q is 12 bytes", () => {
  const record = new BpfRecord([['byte_field1', 'B'], ['byte_field2', 'B'], ['2byte_padding', 'H'], ['8_byte_unsigned_long', 'Q']]);
  assert.equal(record.byteOrder, '=');
  assert.equal(record.size, 12);
  assert.equal(record.offsetOf('8_byte_unsigned_long'), 4);
  assert.equal(new BpfRecord([['a', 'B'], ['b', 'Q']], { byteOrder: '@' }).size, 16);
});

test('format character sizes follow Python struct in standard and native modes', () => {
  const standard: Record<string, number> = { x: 1, c: 1, b: 1, B: 1, '?': 1, h: 2, H: 2, i: 4, I: 4, l: 4, L: 4, q: 8, Q: 8, e: 2, f: 4, d: 8, s: 1, p: 1 };
  for (const order of ['=', '<', '>', '!'] as const) {
    for (const [code, size] of Object.entries(standard)) {
      const template = code === 'x' ? [['pad', 'x'], ['v', 'B']] : code;
      const expected = code === 'x' ? size + 1 : size;
      assert.equal(new BpfRecord(template as never, { byteOrder: order }).size, expected, `${order}${code}`);
    }
  }
  for (const code of ['l', 'L', 'n', 'N', 'P']) assert.equal(new BpfRecord(code, { byteOrder: '@' }).size, 8, `@${code}`);
  for (const code of ['n', 'N', 'P']) {
    assert.throws(() => new BpfRecord(code), { name: 'TypeError', code: 'ERR_BPFMAP_RECORD_FORMAT', message: /only with native sizes/ });
  }
});

test("byte orders: '<' little, '>' and '!' big, '=' native", () => {
  const value = { v: 0x01020304 };
  assert.deepEqual(new BpfRecord([['v', 'I']], { byteOrder: '<' }).pack(value), Uint8Array.of(4, 3, 2, 1));
  assert.deepEqual(new BpfRecord([['v', 'I']], { byteOrder: '>' }).pack(value), Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual(new BpfRecord([['v', 'I']], { byteOrder: '!' }).pack(value), Uint8Array.of(1, 2, 3, 4));
  // A prefix inside a field changes only that field's byte order (a network-order port in a native struct).
  const mixed = new BpfRecord([['port', '!H'], ['count', 'H']], { byteOrder: '<' });
  assert.deepEqual(mixed.pack({ port: 0x1234, count: 0x1234 }), Uint8Array.of(0x12, 0x34, 0x34, 0x12));
});

test('repeat counts: 16s is one 16-byte string, 4Q an array of four, 3x three pad bytes, 1Q an array of one', () => {
  const record = new BpfRecord([['name', '16s'], ['counters', '4Q'], ['pad', '3x'], ['flag', 'B'], ['one', '1Q']]);
  assert.equal(record.size, 16 + 32 + 3 + 1 + 8);
  const decoded = record.unpack(new Uint8Array(record.size)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(decoded), ['name', 'counters', 'flag', 'one']);
  assert.deepEqual(decoded.counters, [0n, 0n, 0n, 0n]);
  assert.deepEqual(decoded.one, [0n]);
  assert.equal((decoded.name as Uint8Array).length, 16);
});

test('a format string with several values is an array of them', () => {
  const record = new BpfRecord([['triple', 'BxH']], { byteOrder: '<' });
  assert.equal(record.size, 4);
  assert.deepEqual(record.unpack(Uint8Array.of(1, 0xff, 2, 0)), { triple: [1, 2] });
  assert.deepEqual(record.pack({ triple: [1, 2] }), Uint8Array.of(1, 0, 2, 0));
});

test('fields after nested arrays and structs keep their positions (pybpfmap got these wrong)', () => {
  const record = new BpfRecord([
    ['head', 'B'],
    ['inner', [['a', 'H'], ['b', ['B', 'B', 'B']]]],
    ['list', ['I', 'I']],
    ['tail', 'H'],
  ]);
  assert.equal(record.size, 1 + 5 + 8 + 2);
  assert.equal(record.offsetOf('inner.b[2]'), 5);
  assert.equal(record.offsetOf('list[1]'), 10);
  assert.equal(record.offsetOf('tail'), 14);
  const value = { head: 1, inner: { a: 2, b: [3, 4, 5] }, list: [6, 7], tail: 8 };
  assert.deepEqual(record.unpack(record.pack(value)), value);
});

test('arrays of structs and arrays of arrays, written as lists and with arrayOf', () => {
  const point = [['x', 'h'], ['y', 'h']] as const;
  const byList = new BpfRecord([['points', [point, point, point]]]);
  const byArrayOf = new BpfRecord([['points', arrayOf(point, 3)]]);
  assert.equal(byList.size, 12);
  assert.equal(byArrayOf.size, 12);
  const value = { points: [{ x: 1, y: -1 }, { x: 2, y: -2 }, { x: 3, y: -3 }] };
  assert.deepEqual(byList.pack(value), byArrayOf.pack(value));
  assert.deepEqual(byArrayOf.unpack(byArrayOf.pack(value)), value);

  const matrix = new BpfRecord([['m', [['B', 'B', 'B'], ['B', 'B', 'B']]]]);
  assert.deepEqual(matrix.unpack(Uint8Array.of(1, 2, 3, 4, 5, 6)), { m: [[1, 2, 3], [4, 5, 6]] });
  // Two-element lists that start with a string read as fields; arrayOf says "array".
  const pairs = new BpfRecord([['m', arrayOf(['B', 'B'], 2)]]);
  assert.deepEqual(pairs.unpack(Uint8Array.of(1, 2, 3, 4)), { m: [[1, 2], [3, 4]] });
});

test('top-level arrays and scalars', () => {
  assert.deepEqual(new BpfRecord(['B', 'B']).unpack(Uint8Array.of(9, 8)), [9, 8]);
  assert.equal(new BpfRecord<bigint>('<Q').unpack(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0)), 1n);
});

test('large uniform arrays (loops) and nested loops decode and encode like unrolled ones', () => {
  const entry = [['id', 'I'], ['samples', '20H']] as const;
  const record = new BpfRecord([['entries', arrayOf(entry, 40)], ['tail', 'B']]);
  assert.equal(record.size, 40 * 44 + 1);
  const value = {
    entries: Array.from({ length: 40 }, (_, id) => ({ id, samples: Array.from({ length: 20 }, (_, i) => id * 100 + i) })),
    tail: 7,
  };
  const bytes = record.pack(value);
  assert.deepEqual(record.unpack(bytes), value);
  assert.equal(new DataView(bytes.buffer).getUint16(record.offsetOf('entries[39].samples[19]'), true), 3919);
  value.entries[17]!.samples[3] = 70000;
  assert.throws(() => record.pack(value), { name: 'RangeError', message: /^value\.entries\[17\]\.samples\[3\]: expected an integer in \[0, 65535\], got 70000$/ });
});

test('bad templates throw TypeError naming the place', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[['a', 'B'], ['b', 'Z']], /template\.b: unknown format character 'Z'/],
    [[['a', 'B'], ['a', 'B']], /field 'a' appears twice/],
    [[['a', '4 B']], /template\.a: bad format string/],
    [[['a', 42]], /template\.a: expected a format string/],
    ['3x', /not only pad bytes/],
    [[['__proto__', 'B']], /'__proto__' cannot be a field name/],
  ];
  for (const [template, message] of cases) {
    assert.throws(() => new BpfRecord(template as never), { name: 'TypeError', code: 'ERR_BPFMAP_RECORD_FORMAT', message });
  }
});
