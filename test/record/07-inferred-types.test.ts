/**
 * `BpfRecord.define` works out a record's TypeScript type from its template. The type assertions
 * below are checked when `npm test` compiles the tests (a wrong type fails the build); each test
 * also decodes real bytes and checks that the runtime values have exactly the shape the type
 * claims, so the type rules cannot drift from the decoder's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpfMap, BpfRecord, arrayOf, type InferRecord, type RecordValue } from '../../src/index.js';
import { needs } from '../helpers.js';

/** True when A and B are the same type (not just mutually assignable). */
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends (<G>() => G extends B ? 1 : 2) ? true : false;
function expectType<T extends true>(): void {}

/** The runtime shape of a decoded value, in the words of a TypeScript type. */
function shape(value: unknown): unknown {
  if (value instanceof Uint8Array) return 'Uint8Array';
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  return typeof value;
}

/** Decodes the record's all-ones bytes (every value in range for every format). */
function sample<T>(record: BpfRecord<T>): T {
  return record.unpack(new Uint8Array(record.size).fill(1));
}

test('a struct of scalars: numbers, bigints, booleans, bytes; pad fields left out', () => {
  const record = BpfRecord.define([['saddr', 'I'], ['dport', '!H'], ['pad', '2x'], ['bytes', 'Q'], ['ok', '?'], ['comm', '16s'], ['ratio', 'd']]);
  expectType<Equal<typeof record, BpfRecord<{ saddr: number; dport: number; bytes: bigint; ok: boolean; comm: Uint8Array; ratio: number }>>>();
  assert.deepEqual(shape(sample(record)), { saddr: 'number', dport: 'number', bytes: 'bigint', ok: 'boolean', comm: 'Uint8Array', ratio: 'number' });
});

test("strings: 'text' makes s, p and c strings", () => {
  const record = BpfRecord.define([['comm', '16s'], ['tag', 'c'], ['label', '8p']], { strings: 'text' });
  expectType<Equal<typeof record, BpfRecord<{ comm: string; tag: string; label: string }>>>();
  assert.deepEqual(shape(sample(record)), { comm: 'string', tag: 'string', label: 'string' });
});

test('a written count or several values make an array; one s or p with its length stays a scalar', () => {
  const record = BpfRecord.define([['four', '4Q'], ['one', '1I'], ['mixed', 'BxH'], ['name', '8s'], ['spaced', ' 2h B ']]);
  expectType<Equal<typeof record, BpfRecord<{ four: bigint[]; one: number[]; mixed: number[]; name: Uint8Array; spaced: number[] }>>>();
  assert.deepEqual(shape(sample(record)), {
    four: ['bigint', 'bigint', 'bigint', 'bigint'], one: ['number'], mixed: ['number', 'number'], name: 'Uint8Array', spaced: ['number', 'number', 'number'],
  });
});

test("'l' and 'L' are 4-byte numbers in standard sizes and 8-byte bigints with '@'", () => {
  const standard = BpfRecord.define([['a', 'l'], ['b', 'L']]);
  const native = BpfRecord.define([['a', 'l'], ['b', 'L'], ['size', 'N'], ['ptr', 'P']], { byteOrder: '@' });
  expectType<Equal<typeof standard, BpfRecord<{ a: number; b: number }>>>();
  expectType<Equal<typeof native, BpfRecord<{ a: bigint; b: bigint; size: bigint; ptr: bigint }>>>();
  assert.deepEqual(shape(sample(standard)), { a: 'number', b: 'number' });
  assert.deepEqual(shape(sample(native)), { a: 'bigint', b: 'bigint', size: 'bigint', ptr: 'bigint' });
});

test('nested structs, tuples of templates and arrayOf', () => {
  const record = BpfRecord.define([
    ['inner', [['x', 'h'], ['y', 'h']]],
    ['triple', ['I', 'Q', [['z', 'B']]]],
    ['flows', arrayOf([['src', 'I'], ['dst', 'I']], 2)],
    ['grid', arrayOf(arrayOf('B', 2), 2)],
  ]);
  expectType<Equal<typeof record, BpfRecord<{
    inner: { x: number; y: number };
    triple: [number, bigint, { z: number }];
    flows: Array<{ src: number; dst: number }>;
    grid: number[][];
  }>>>();
  assert.deepEqual(shape(sample(record)), {
    inner: { x: 'number', y: 'number' },
    triple: ['number', 'bigint', { z: 'number' }],
    flows: [{ src: 'number', dst: 'number' }, { src: 'number', dst: 'number' }],
    grid: [['number', 'number'], ['number', 'number']],
  });
});

test('a scalar or array template at the top level', () => {
  const scalar = BpfRecord.define('Q');
  const array = BpfRecord.define('8I');
  expectType<Equal<typeof scalar, BpfRecord<bigint>>>();
  expectType<Equal<typeof array, BpfRecord<number[]>>>();
  assert.equal(typeof sample(scalar), 'bigint');
  assert.deepEqual(shape(sample(array)), new Array(8).fill('number'));
});

test('templates the compiler cannot see fall back to RecordValue; InferRecord names the type', () => {
  const template: string = 'Q';
  const widened = BpfRecord.define(template);
  expectType<Equal<typeof widened, BpfRecord<RecordValue>>>();
  expectType<Equal<InferRecord<[['a', 'B'], ['b', '3x']]>, { a: number }>>();
  assert.equal(typeof sample(widened), 'bigint');
});

test('define checks the template like the constructor does', () => {
  assert.throws(() => BpfRecord.define([['a', 'Z']]), { code: 'ERR_BPFMAP_RECORD_FORMAT' });
});

test('a map typed by defined records takes and returns the inferred types', needs(), () => {
  const key = BpfRecord.define([['pid', 'I'], ['cpu', 'I']], { name: 'key' });
  const value = BpfRecord.define([['packets', 'Q'], ['comm', '16s']], { strings: 'text' });
  using map = BpfMap.create({ type: 'hash', keySize: key.size, valueSize: value.size, maxEntries: 4 }).withCodecs(key, value);
  map.set({ pid: 7, cpu: 1 }, { packets: 3n, comm: 'curl' });
  const got = map.get({ pid: 7, cpu: 1 });
  expectType<Equal<typeof got, { packets: bigint; comm: string } | undefined>>();
  assert.deepEqual(got, { packets: 3n, comm: 'curl' });
});
