/**
 * BTF built from records: member offsets come from the record's layout (padding stays holes), the
 * BTF codecs decode what the record wrote, and maps created from records show bpftool
 * `formatted` values equal to the record's objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { needs, pinDir, bpftool } from '../helpers.js';
import { BpfRecord, type RecordValue } from '../../src/codec/record/record.js';
import { arrayOf, type Template } from '../../src/codec/record/template.js';
import { btfForRecords } from '../../src/codec/btf/from-record.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { printC } from '../../src/codec/btf/c-printer.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import type { BtfComposite } from '../../src/codec/btf/types.js';
import { createWithRecords, openTyped } from '../../src/map/btf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { parseExactJson } from './exact-json.js';
import type { FormattedValue } from '../../src/codec/btf/json.js';

/** What bpftool prints for a record value: unsafe integers stay bigint, safe ones are numbers. */
function asFormatted(value: RecordValue): FormattedValue {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value ? Number(value) : value;
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map((element: RecordValue) => asFormatted(element));
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, asFormatted(field)]));
  return value as FormattedValue;
}

/** Members of a struct type as `name@bitOffset`. */
function memberOffsets(type: BtfComposite): string[] {
  return type.members.map((member) => `${member.name}@${member.bitOffset}`);
}

test('record BTF: C alignment, holes for padding, nested structs and arrays of structs', () => {
  const value = new BpfRecord(
    [
      ['a', 'B'],
      ['b', 'Q'],
      ['_pad', 'x'],
      ['c', 'H'],
      ['inner', [['x', 'I'], ['y', 'B']]],
      ['items', arrayOf([['x', 'I'], ['y', 'B']], 2)],
      ['name', '5s'],
      ['tail', 'b'],
    ],
    { byteOrder: '@' },
  );
  const { btf, valueTypeId, keyTypeId } = btfForRecords(undefined, value);
  assert.equal(keyTypeId, 0);
  const struct = btf.typeOfKind(valueTypeId, 'struct');
  assert.equal(struct.name, 'value');
  assert.equal(struct.size, value.size);
  // The 'x' pad and C's alignment gaps are holes: no member covers them.
  assert.deepEqual(memberOffsets(struct), [
    `a@0`, `b@${8 * 8}`, `c@${value.offsetOf('c') * 8}`, `inner@${value.offsetOf('inner') * 8}`,
    `items@${value.offsetOf('items') * 8}`, `name@${value.offsetOf('name') * 8}`, `tail@${value.offsetOf('tail') * 8}`,
  ]);
  assert.equal(value.offsetOf('c'), 18, "after the 'x' pad at 16, C aligns the short to 18");
  const inner = btf.typeOfKind(btf.typeByName('value_inner', 'struct').id, 'struct');
  assert.equal(inner.size, 8, 'a nested struct takes C sizeof, trailing padding included');
  const items = struct.members[4];
  assert.ok(items);
  const itemsType = btf.typeOfKind(items.type, 'array');
  assert.equal(itemsType.length, 2);
  assert.equal(btf.size(itemsType.type), 8);
  assert.equal(btf.size(valueTypeId), value.size);
  assert.match(printC(btf, valueTypeId), /struct value_items items\[2\];/);
});

test('record BTF: packed byte orders, tuples, pascal strings and network-order fields', () => {
  const value = new BpfRecord([['a', 'B'], ['b', 'Q'], ['pair', 'BH'], ['port', '!H'], ['grid', arrayOf('3h', 2)], ['ps', '4p'], ['none', '0I']]);
  const { btf, valueTypeId } = btfForRecords(undefined, value, { valueName: 'packed' });
  const struct = btf.typeOfKind(valueTypeId, 'struct');
  assert.equal(struct.name, 'packed');
  assert.equal(struct.size, 1 + 8 + 3 + 2 + 12 + 4);
  assert.deepEqual(memberOffsets(struct), ['a@0', 'b@8', 'pair@72', 'port@96', 'grid@112', 'ps@208', 'none@240']);
  const pair = btf.typeOfKind(btf.typeByName('packed_pair', 'struct').id, 'struct');
  assert.deepEqual(memberOffsets(pair), ['_0@0', '_1@8']);
  assert.equal(btf.typeByName('__be16', 'typedef').name, '__be16');
  const c = printC(btf, valueTypeId);
  assert.match(c, /__be16 port;/);
  assert.match(c, /short grid\[2\]\[3\];/);
  assert.match(c, /struct pascal4 ps;/);
});

test('record BTF: the BTF codec decodes what the record encodes, byte for byte', () => {
  const cases: { template: Template; value: RecordValue; options?: { byteOrder: '@' | '=' } }[] = [
    { template: 'I', value: 7 },
    { template: '4Q', value: [1n, 2n, 3n, 2n ** 64n - 1n] },
    { template: [['a', 'b'], ['b', 'q'], ['c', '?'], ['d', 'H']], value: { a: -1, b: -(2n ** 63n), c: true, d: 65535 }, options: { byteOrder: '@' } },
    { template: [['f', 'f'], ['d', 'd'], ['e', 'e']], value: { f: 1.5, d: -0.1, e: 0.25 }, options: { byteOrder: '@' } },
    { template: arrayOf([['k', 'B'], ['v', 'Q']], 3), value: [{ k: 1, v: 2n }, { k: 3, v: 4n }, { k: 5, v: 6n }], options: { byteOrder: '@' } },
    { template: [['outer', [['inner', [['deep', 'i']]], ['n', 'h']]]], value: { outer: { inner: { deep: -9 }, n: 3 } } },
  ];
  for (const { template, value, options } of cases) {
    const record = new BpfRecord<RecordValue>(template, options ?? {});
    const { btf, valueTypeId } = btfForRecords(undefined, record);
    const codec = btfCodec(btf, valueTypeId);
    assert.equal(codec.size, record.size, JSON.stringify(template));
    const bytes = record.pack(value);
    assert.deepEqual(codec.decode(bytes, 0), record.unpack(bytes), JSON.stringify(template));
    const again = new Uint8Array(codec.size);
    codec.encode(codec.decode(bytes, 0), again, 0);
    // Padding is zero in both encodings, so the bytes match everywhere.
    assert.deepEqual(again, bytes, JSON.stringify(template));
  }
});

test('record BTF: field names must be C identifiers', () => {
  const record = new BpfRecord([['ok', 'I'], ['not-c', 'I']]);
  assert.throws(() => btfForRecords(undefined, record), (error: unknown) => error instanceof BtfError && error.code === 'ERR_BTF_UNSUPPORTED' && /'not-c' is not a C identifier/.test(error.message));
  assert.throws(() => btfForRecords(undefined, new BpfRecord('I'), { valueName: '1st' }), BtfError);
});

const keyRecord = new BpfRecord<{ pid: number; comm: string }>([['pid', 'I'], ['comm', '12s']], { byteOrder: '@', strings: 'text' });
const valueTemplate: Template = [
  ['flag', '?'],
  ['count', 'Q'],
  ['small', 'h'],
  ['letter', 'c'],
  ['signed64', 'q'],
  ['inner', [['a', 'B'], ['b', 'I']]],
  ['items', arrayOf([['x', 'H'], ['y', 'b']], 3)],
  ['grid', arrayOf('2i', 2)],
  ['label', '10s'],
];

test('a hash map created from @ records: bpftool formatted values equal the record decode', needs('bpftool'), (t) => {
  const value = new BpfRecord<RecordValue>(valueTemplate, { byteOrder: '@', strings: 'text' });
  const map = createWithRecords({ type: 'hash', maxEntries: 8, name: 'rec_btf' }, { key: keyRecord, value });
  t.after(() => map.close());
  assert.ok(map.info.btfId > 0, 'the map carries BTF');
  const entries: [{ pid: number; comm: string }, RecordValue][] = [
    [{ pid: 1, comm: 'init' }, { flag: true, count: 2n ** 60n + 3n, small: -5, letter: 'A', signed64: -(2n ** 62n), inner: { a: 255, b: 0xdeadbeef }, items: [{ x: 1, y: -1 }, { x: 2, y: -128 }, { x: 65535, y: 127 }], grid: [[1, -2], [3, -4]], label: 'hello' }],
    [{ pid: 4242, comm: 'node' }, { flag: false, count: 5n, small: 32767, letter: 'z', signed64: -1n, inner: { a: 0, b: 1 }, items: [{ x: 0, y: 0 }, { x: 0, y: 0 }, { x: 0, y: 0 }], grid: [[0, 0], [0, 2 ** 31 - 1]], label: '' }],
  ];
  for (const [key, entry] of entries) map.set(key, entry);
  const pin = path.join(pinDir(t, 'rec-btf'), 'm');
  map.pin(pin);

  const dump = parseExactJson(bpftool('-j', 'map', 'dump', 'pinned', pin), true) as { formatted: { key: FormattedValue; value: FormattedValue } }[];
  const byPid = new Map(dump.map((entry) => [(entry.formatted.key as { pid: number }).pid, entry.formatted]));
  for (const [key, entry] of entries) {
    const stored = map.get(key);
    assert.ok(stored !== undefined);
    assert.deepEqual(byPid.get(key.pid), { key: asFormatted(key), value: asFormatted(stored) });
  }

  // Another process that knows nothing of the records opens the map typed through its BTF.
  const typed = openTyped<Record<string, unknown>, Record<string, unknown>>(pin);
  t.after(() => typed.close());
  for (const [key, entry] of entries) {
    const decoded = typed.get(key);
    // A lone `char` decodes to its code through BTF, to a one-character string through a text record.
    assert.deepEqual(decoded, { ...(entry as Record<string, unknown>), letter: (entry as { letter: string }).letter.charCodeAt(0) });
  }
});

test('maps from packed records, per-CPU arrays and floats', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'rec-btf2');
  // '=' records: no padding at all.
  const packed = new BpfRecord<RecordValue>([['a', 'B'], ['b', 'Q'], ['c', 'h'], ['tag', '6s']], { strings: 'text' });
  const index = new BpfRecord<number>('I');
  const percpu = createWithRecords({ type: 'percpu_array', maxEntries: 2, name: 'rec_pcpu' }, { key: index, value: packed });
  t.after(() => percpu.close());
  assert.ok(percpu.info.btfId > 0);
  const cpus = possibleCpus();
  const perCpuValues = Array.from({ length: cpus }, (_, cpu) => ({ a: cpu & 0xff, b: BigInt(cpu) << 40n, c: cpu === 0 ? 0 : -cpu, tag: `cpu${cpu}` }));
  percpu.set(1, perCpuValues);
  percpu.pin(path.join(dir, 'pcpu'));
  const dump = parseExactJson(bpftool('-j', 'map', 'dump', 'pinned', path.join(dir, 'pcpu')), true) as { formatted: { key: number; values: { cpu: number; value: FormattedValue }[] } }[];
  const one = dump.find((entry) => entry.formatted.key === 1);
  assert.deepEqual(one?.formatted.values, perCpuValues.map((value, cpu) => ({ cpu, value: asFormatted(value) })));

  // An array map whose key record is a struct still gets BTF: the kernel's only array key type is a u32.
  const structKey = new BpfRecord<{ slot: number }>([['slot', 'I']]);
  const array = createWithRecords({ type: 'array', maxEntries: 2, name: 'rec_arr' }, { key: structKey, value: packed });
  t.after(() => array.close());
  assert.ok(array.info.btfId > 0);
  array.set({ slot: 1 }, { a: 1, b: 2n, c: 3, tag: 'x' });
  assert.deepEqual(array.get({ slot: 1 }), { a: 1, b: 2n, c: 3, tag: 'x' });

  // bpftool cannot print FLOAT (it writes "(unsupported-kind" into its JSON): check bpfmap's own typed view.
  const floats = new BpfRecord<RecordValue>([['f', 'f'], ['d', 'd'], ['e', 'e'], ['n', 'I']], { byteOrder: '@' });
  const floatMap = createWithRecords({ type: 'hash', maxEntries: 2, name: 'rec_float' }, { key: index, value: floats });
  t.after(() => floatMap.close());
  floatMap.set(3, { f: 0.1, d: -1e300, e: 65504, n: 9 });
  floatMap.pin(path.join(dir, 'floats'));
  const typed = openTyped<number, unknown>(path.join(dir, 'floats'));
  t.after(() => typed.close());
  assert.deepEqual(typed.get(3), floatMap.get(3));
  assert.deepEqual(typed.get(3), { f: Math.fround(0.1), d: -1e300, e: 65504, n: 9 });
});
