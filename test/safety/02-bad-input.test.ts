/**
 * Bad input to maps is a TypeError/RangeError with an ERR_BPFMAP_* code that names what was wrong,
 * thrown before anything reaches the kernel, and the map is unchanged afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { BpfMap, BpfError, BatchCursor, BpfRecord, arrayOf, possibleCpus, typedMap, type Template } from '../../src/index.js';
import { needs, pinDir, u32le, u64le } from '../helpers.js';
import { throwsCoded, snapshot } from './coded.js';

test('map specs: unknown or zero type, flags {}, mapExtra text, btf null, innerMap null', needs(), () => {
  const base = { keySize: 4, valueSize: 4, maxEntries: 1 } as const;
  throwsCoded(() => BpfMap.create({ ...base, type: 0 }), RangeError, 'ERR_BPFMAP_SPEC', /UNSPEC/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'hashh' as never }), TypeError, 'ERR_BPFMAP_SPEC', /unknown map type 'hashh'/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'toString' as never }), TypeError, 'ERR_BPFMAP_SPEC');
  throwsCoded(() => BpfMap.create({ ...base, type: {} as never }), TypeError, 'ERR_BPFMAP_SPEC');
  throwsCoded(() => BpfMap.create({ ...base, type: 'hash', flags: {} as never }), TypeError, 'ERR_BPFMAP_SPEC', /flags must be/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'hash', flags: ['toString'] as never }), TypeError, 'ERR_BPFMAP_SPEC', /unknown map flag/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'bloom_filter', keySize: 0, mapExtra: 'abc' as never }), TypeError, 'ERR_BPFMAP_SPEC', /mapExtra/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'hash', btf: null as never }), TypeError, 'ERR_BPFMAP_SPEC', /btf must be/);
  throwsCoded(() => BpfMap.create({ ...base, type: 'array_of_maps', innerMap: null as never }), TypeError, 'ERR_BPFMAP_SPEC', /innerMap/);
});

test('keys: Proxy, Object.create(Uint8Array.prototype), lying length getters, other typed arrays', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
  map.set(u32le(1), u32le(1));
  const before = snapshot(map.entries());
  class Liar extends Uint8Array {
    override get length(): number {
      return 4;
    }
  }
  const liar = new Liar(64);
  const ownLiar = new Uint8Array(64);
  Object.defineProperty(ownLiar, 'length', { get: () => 4 });
  const cases: Array<[unknown, new () => Error, string]> = [
    [new Proxy(u32le(1), {}), TypeError, 'ERR_BPFMAP_KEY_TYPE'],
    [Object.create(Uint8Array.prototype), TypeError, 'ERR_BPFMAP_KEY_TYPE'],
    [new Uint32Array(1), TypeError, 'ERR_BPFMAP_KEY_TYPE'],
    [liar, RangeError, 'ERR_BPFMAP_KEY_SIZE'],
    [ownLiar, RangeError, 'ERR_BPFMAP_KEY_SIZE'],
  ];
  for (const [key, kind, code] of cases) {
    throwsCoded(() => map.get(key as Uint8Array), kind, code);
    throwsCoded(() => map.set(key as Uint8Array, u32le(5)), kind, code);
    throwsCoded(() => map.set(u32le(2), key as Uint8Array), kind, code.replace('KEY', 'VALUE'));
    throwsCoded(() => map.delete(key as Uint8Array), kind, code);
    throwsCoded(() => map.setBatch([[key as Uint8Array, u32le(5)]]), kind, code);
  }
  throwsCoded(() => map.getInto(u32le(1), new Liar(64)), RangeError, 'ERR_BPFMAP_VALUE_SIZE');
  throwsCoded(() => map.getInto(u32le(1), Object.create(Uint8Array.prototype)), TypeError, 'ERR_BPFMAP_VALUE_TYPE');
  assert.deepEqual(snapshot(map.entries()), before);
});

test('batch options: huge counts, null options, forged cursors, non-iterables, bad pairs', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 64 });
  map.set(u32le(1), u32le(1));
  const before = snapshot(map.entries());
  // Capped at max_entries: no giant allocation, and a valid page.
  assert.equal(map.getBatch({ count: 2 ** 31 }).entries.length, 1);
  assert.equal([...map.batches({ batchSize: 2 ** 31 })].length, 1);
  throwsCoded(() => map.getBatch({ count: 2 ** 32 + 1 }), RangeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => [...map.batches({ batchSize: 2 ** 32 + 1 })], RangeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => map.getBatch({ count: 0.5 }), RangeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => map.getBatch(null as never), TypeError, 'ERR_BPFMAP_OPTION');
  throwsCoded(() => map.getAndDeleteBatch(7 as never), TypeError, 'ERR_BPFMAP_OPTION');
  throwsCoded(() => [...map.batches(null as never)], TypeError, 'ERR_BPFMAP_OPTION');
  throwsCoded(() => [...map.batches({ delete: 'yes' as never })], TypeError, 'ERR_BPFMAP_OPTION');
  throwsCoded(() => map.getBatch({ cursor: { keySize: 4, done: false } as never }), TypeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => map.getBatch({ cursor: new BatchCursor(8) }), TypeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => map.setBatch(null as never), TypeError, 'ERR_BPFMAP_BATCH');
  throwsCoded(() => map.setBatch([u32le(1)] as never), TypeError, 'ERR_BPFMAP_BATCH', /entry 0: expected a \[key, value\] pair/);
  throwsCoded(() => map.deleteBatch(5 as never), TypeError, 'ERR_BPFMAP_BATCH');
  assert.deepEqual(snapshot(map.entries()), before);
  // A map whose entries would need more than a GiB per batch says so instead of failing to allocate.
  using huge = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 65536, maxEntries: 1 << 20, flags: ['NO_PREALLOC'] });
  throwsCoded(() => huge.getBatch({ count: 1 << 20 }), RangeError, 'ERR_BPFMAP_BATCH', /more than the/);
});

test('per-CPU value shapes are coded errors', needs(), () => {
  using map = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 2 });
  throwsCoded(() => map.set(u32le(1), u32le(1) as never), TypeError, 'ERR_BPFMAP_VALUE_TYPE', /per-CPU value expected an array/);
  throwsCoded(() => map.set(u32le(1), [u32le(1)].concat(Array(possibleCpus()).fill(u32le(1)))), RangeError, 'ERR_BPFMAP_VALUE_SIZE');
  throwsCoded(() => map.set(u32le(1), Array(possibleCpus()).fill(u64le(1))), RangeError, 'ERR_BPFMAP_VALUE_SIZE', /value\[0\]/);
  assert.equal(map.has(u32le(1)), false);
});

test('pin paths with NUL are refused, not cut', needs(), (t) => {
  const dir = pinDir(t, 'safety-js');
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const cut = path.join(dir, 'a');
  throwsCoded(() => map.pin(`${cut}\0b`), TypeError, 'ERR_BPFMAP_PATH', /NUL/);
  assert.equal(existsSync(cut), false, 'nothing pinned at the cut path');
  map.pin(cut);
  throwsCoded(() => BpfMap.openPinned(`${cut}\0junk`), TypeError, 'ERR_BPFMAP_PATH', /NUL/);
  throwsCoded(() => BpfMap.openPinned(null as never), TypeError, 'ERR_BPFMAP_PATH');
});

test('clear() on a closed queue is an error, not a silent success', needs(), () => {
  const queue = BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 2 });
  queue.push(u32le(1));
  queue.clear();
  queue.close();
  assert.throws(() => queue.clear(), (e: unknown) => e instanceof BpfError && e.code === 'EBADF' && /closed/.test(e.message));
});

test('typed() and typedMap() on a map without BTF throw at the call', needs(), () => {
  using plain = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  throwsCoded(() => plain.typed(), TypeError, 'ERR_BPFMAP_NO_BTF', /has no BTF/);
  throwsCoded(() => typedMap(plain as BpfMap<unknown, unknown>), TypeError, 'ERR_BPFMAP_NO_BTF');
});

test('record templates: sizes past what a map holds, cycles, deep nesting, forged arrays, null options', () => {
  const started = Date.now();
  throwsCoded(() => new BpfRecord('100000000Q'), TypeError, 'ERR_BPFMAP_RECORD_FORMAT', /more than the 4194304/);
  throwsCoded(() => new BpfRecord(arrayOf('Q', 2 ** 40)), TypeError, 'ERR_BPFMAP_RECORD_FORMAT');
  assert.ok(Date.now() - started < 2000, 'refused before laying out the values');
  const cyclic: unknown[] = [['a', 'I']];
  cyclic.push(['self', cyclic]);
  throwsCoded(() => new BpfRecord(cyclic as Template), TypeError, 'ERR_BPFMAP_RECORD_FORMAT', /nest deeper|cyclic/);
  let deep: Template = 'I';
  for (let i = 0; i < 5000; i++) deep = [['x', deep]] as Template;
  throwsCoded(() => new BpfRecord(deep), TypeError, 'ERR_BPFMAP_RECORD_FORMAT', /nest deeper/);
  for (const forged of [{ arrayOf: 'I', length: -1 }, { arrayOf: null, length: 2 }, { arrayOf: 'I', length: 'x' }]) {
    throwsCoded(() => new BpfRecord(forged as Template), TypeError, 'ERR_BPFMAP_RECORD_FORMAT');
  }
  throwsCoded(() => new BpfRecord('Q', null as never), TypeError, 'ERR_BPFMAP_RECORD_FORMAT', /options must be an object/);
  assert.equal(new BpfRecord('524288Q').size, 4 << 20, 'the largest map value still works');
});

test('BTF files are read with a bound: /dev/zero is refused, not read forever', async () => {
  const { btfFromFile, BtfError } = await import('../../src/index.js');
  assert.throws(() => btfFromFile('/dev/zero'), (e: unknown) => e instanceof BtfError && e.code === 'ERR_BTF_UNSUPPORTED' && /larger than/.test(e.message));
});
