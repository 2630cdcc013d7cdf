/**
 * MemoryMap beyond the differential sequence: LRU eviction (the modelled policy, and the
 * invariants the kernel shares), BTF-typed maps read alike from a kernel map's own BTF, records,
 * closed handles, handles sharing one map, codecs that call back into their map, getBatch
 * cursors, and the options and map types it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfError, BpfRecord, MemoryMap, type BpfMapLike, type Codec, type MapSpec } from '../../src/index.js';
import { needs, pinDir, buildBpfObject, loadBpfObject, u32le, u64le, readU64 } from '../helpers.js';

const code = (expected: string) => (error: unknown): boolean => (error as { code?: string }).code === expected;

test('lru_hash evicts the least recently written key; lookups do not refresh it', () => {
  using map = MemoryMap.create({ type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 3 });
  for (const key of [1, 2, 3]) map.set(u32le(key), u64le(key));
  map.set(u32le(1), u64le(10)); // 1 is now the most recently written
  assert.equal(readU64(map.get(u32le(2))!), 2n); // a lookup is no use, as from a syscall
  map.set(u32le(4), u64le(4));
  assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [1, 3, 4], 'key 2 was evicted');
  assert.equal(map.size, 3);
  assert.throws(() => map.set(u32le(5), u64le(5), 'exist'), code('ENOENT'), 'exist still needs the key');
  map.set(u32le(5), u64le(5), 'noexist');
  assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [1, 4, 5]);
});

test('LRU maps in memory and in the kernel share the invariants of eviction', needs(), () => {
  for (const type of ['lru_hash', 'lru_percpu_hash'] as const) {
    const spec = { type, keySize: 4, valueSize: 8, maxEntries: 32, name: 'lru_inv' } as const;
    using kernel = BpfMap.create(spec);
    using memory = MemoryMap.create(spec);
    for (const map of [kernel, memory]) {
      const value = map.perCpu ? Array.from({ length: map.valueBufferSize / 8 }, () => u64le(1)) : u64le(1);
      for (let key = 0; key < 500; key++) {
        (map as BpfMap<Uint8Array, unknown>).set(u32le(key), value); // never E2BIG
        assert.ok((map as BpfMap<Uint8Array, unknown>).has(u32le(key)), `${type}: the key just written is there`);
      }
      const keys = [...map.keys()];
      assert.ok(keys.length <= 32 && keys.length > 0, `${type}: ${keys.length} keys, at most max_entries`);
    }
    assert.equal([...memory.keys()].length, 32, 'memory evicts only when full');
  }
});

test('a BTF-typed memory map decodes what a kernel map with the same BTF holds', needs('clang', 'bpftool'), (t) => {
  const { maps } = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'memory-btf'));
  for (const name of ['btf_hash', 'btf_array', 'btf_percpu', 'btf_pcarray']) {
    using kernel = BpfMap.openPinned<Uint8Array, unknown>(path.join(maps, name));
    const btf = kernel.btf()!;
    const info = kernel.info;
    const spec = { type: info.typeName, maxEntries: info.maxEntries, name } as MapSpec;
    using memory = MemoryMap.createWithBtf({ ...spec }, { btf, ...(info.btfKeyTypeId ? { key: info.btfKeyTypeId } : {}), value: info.btfValueTypeId });
    assert.equal(memory.btf(), btf);
    assert.equal(memory.keySize, kernel.keySize);
    assert.equal(memory.valueSize, kernel.valueSize);
    // The same bytes in both, read through each map's own BTF.
    const bytesKey = (i: number): Uint8Array => (kernel.keySize === 4 ? u32le(i) : Uint8Array.from({ length: kernel.keySize }, (_v, j) => (i * 3 + j) & 0x7f));
    const bytesValue = (i: number): unknown => {
      const one = (cpu: number): Uint8Array => Uint8Array.from({ length: kernel.valueSize }, (_v, j) => (i * 31 + j * 7 + cpu) & 0x7f);
      return kernel.perCpu ? Array.from({ length: memory.possibleCpus }, (_v, cpu) => one(cpu)) : one(0);
    };
    const entries = [0, 1, 2].map((i) => [bytesKey(i), bytesValue(i)] as const);
    kernel.setBatch(entries);
    using plain = memory.withCodecs<Uint8Array, unknown>(bytesCodecOf(kernel.keySize), bytesCodecOf(kernel.valueSize));
    plain.setBatch(entries);
    using typedKernel = kernel.typed();
    using typedMemory = plain.typed();
    const sorted = (list: unknown[]): string[] => list.map((entry) => JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).sort();
    assert.deepEqual(sorted([...typedMemory.entries()]), sorted([...typedKernel.entries()]), name);
    assert.deepEqual(sorted([...memory.entries()]), sorted([...typedKernel.entries()]), `${name}: createWithBtf's handle is typed`);
    // Writing through the typed handles encodes alike.
    const [firstKey, firstValue] = [...typedKernel.entries()].at(-1)!;
    typedMemory.set(firstKey, firstValue);
    typedKernel.set(firstKey, firstValue);
    const keyBytes = encodeWith(typedKernel.keyCodec, firstKey);
    assert.deepEqual(plain.get(keyBytes), kernel.get(keyBytes), `${name}: bytes written through the BTF codecs`);
  }
});

function bytesCodecOf(size: number): Codec<Uint8Array> {
  return { size, encode: (value, target, offset) => target.set(value, offset), decode: (source, offset) => source.slice(offset, offset + size) };
}

function encodeWith<T>(codec: Codec<T>, value: T): Uint8Array {
  const bytes = new Uint8Array(codec.size);
  codec.encode(value, bytes, 0);
  return bytes;
}

test('records: createWithRecords gives typed handles, typed() reads through the built BTF', () => {
  const key = BpfRecord.define([['pid', 'I'], ['comm', '8s']], { strings: 'text' });
  const value = BpfRecord.define([['packets', 'Q']]);
  using flows = MemoryMap.createWithRecords({ type: 'hash', maxEntries: 4, name: 'flows' }, { key, value });
  flows.set({ pid: 1, comm: 'init' }, { packets: 3n });
  assert.deepEqual(flows.get({ pid: 1, comm: 'init' }), { packets: 3n });
  using typed = flows.typed<{ pid: number }, { packets: bigint }>();
  assert.deepEqual([...typed.values()], [{ packets: 3n }]);
  assert.equal(flows.info.btfValueTypeId > 0, true);
  using plain = MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(plain.btf(), undefined);
  assert.throws(() => plain.typed(), (e: unknown) => e instanceof TypeError && code('ERR_BPFMAP_NO_BTF')(e));
});

test('a closed handle answers as a closed BpfMap does; other handles on the map stay open', needs(), () => {
  const spec = { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'closed_cmp' } as const;
  const kernel = BpfMap.create(spec);
  const memory = MemoryMap.create(spec);
  const other = memory.withCodecs();
  memory.set(u32le(1), u32le(1));
  kernel.close();
  memory.close();
  const outcome = (run: () => unknown): unknown => {
    try {
      run();
      return 'no error';
    } catch (error) {
      const e = error as BpfError;
      return { name: e.name, code: e.code, command: e.command, closedMessage: /the map handle is closed/.test(e.message) };
    }
  };
  const operations: Array<[string, (map: BpfMapLike) => unknown]> = [
    ['get', (map) => map.get(u32le(1))],
    ['set', (map) => map.set(u32le(1), u32le(2))],
    ['delete', (map) => map.delete(u32le(1))],
    ['nextKey', (map) => map.nextKey()],
    ['entries', (map) => [...map.entries()]],
    ['getBatch', (map) => map.getBatch()],
    ['setBatch', (map) => map.setBatch([[u32le(1), u32le(1)]])],
    ['deleteBatch', (map) => map.deleteBatch([u32le(1)])],
    ['freeze', (map) => map.freeze()],
    ['bad key first', (map) => map.get(new Uint8Array(3))],
  ];
  for (const [name, run] of operations) assert.deepEqual(outcome(() => run(memory)), outcome(() => run(kernel)), name);
  assert.equal(memory.closed, true);
  assert.deepEqual(other.get(u32le(1)), u32le(1), 'the other handle still reads the map');
  other.close();
});

test('handles share the map: withCodecs, freeze through one refuses writes through the other', () => {
  const value = BpfRecord.define([['n', 'I']]);
  using raw = MemoryMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
  using typed = raw.withCodecs(bytesCodecOf(4), value);
  typed.set(u32le(1), { n: 7 });
  assert.deepEqual(raw.get(u32le(1)), u32le(7));
  raw.freeze();
  assert.equal(typed.frozen, true);
  assert.throws(() => typed.set(u32le(0), { n: 1 }), (e: unknown) => e instanceof BpfError && e.code === 'EPERM' && e.command === 'MAP_UPDATE_ELEM');
  assert.throws(() => raw.freeze(), (e: unknown) => e instanceof BpfError && e.code === 'EPERM' && e.command === 'MAP_FREEZE');
});

test('a codec that calls back into its own map reads and writes the keys it names', () => {
  using map = MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 });
  // A value codec that records, in key 99, the last value it encoded.
  const logging: Codec<number> = {
    size: 4,
    encode(n, target, offset) {
      if (n !== 99) map.set(u32le(99), u32le(n));
      target.set(u32le(n), offset);
    },
    decode: (source, offset) => source[offset]!,
  };
  using typed = map.withCodecs(bytesCodecOf(4), logging);
  typed.set(u32le(1), 5);
  assert.equal(typed.get(u32le(1)), 5);
  assert.deepEqual(map.get(u32le(99)), u32le(5));
  typed.setBatch([[u32le(2), 6], [u32le(3), 7]]);
  assert.deepEqual([...typed.entries()].map(([k, v]) => [k[0], v]).sort(), [[1, 5], [2, 6], [3, 7], [99, 7]]);
});

test('getBatch pages every entry once while entries are deleted between pages', () => {
  using map = MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 100 });
  for (let key = 0; key < 100; key++) map.set(u32le(key), u32le(key));
  const seen: number[] = [];
  let page = map.getBatch({ count: 7 });
  for (;;) {
    for (const [key] of page.entries) {
      seen.push(key[0]!);
      map.delete(key);
    }
    if (page.done) break;
    page = map.getBatch({ cursor: page.cursor, count: 7 });
  }
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 100 }, (_v, i) => i));
  assert.equal(map.size, 0);
});

test('what a memory map refuses: other map types, kernel objects, a bad CPU count', () => {
  assert.throws(() => MemoryMap.create({ type: 'ringbuf', maxEntries: 4096 }), (e: unknown) => e instanceof TypeError && code('ERR_BPFMAP_MEMORY_UNSUPPORTED')(e) && /does not model ringbuf maps/.test(e.message));
  assert.throws(() => MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, btf: { fd: 3, keyTypeId: 1, valueTypeId: 1 } }), code('ERR_BPFMAP_MEMORY_UNSUPPORTED'));
  assert.throws(() => MemoryMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 1 }, {}, { possibleCpus: 0 }), (e: unknown) => e instanceof RangeError && code('ERR_BPFMAP_OPTION')(e));
  using perCpu = MemoryMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 1 }, {}, { possibleCpus: 5 });
  assert.equal(perCpu.possibleCpus, 5);
  assert.equal(perCpu.valueBufferSize, 40);
  assert.throws(() => perCpu.set(u32le(0), [u32le(1)]), (e: unknown) => e instanceof RangeError && code('ERR_BPFMAP_VALUE_SIZE')(e) && /expected 5 values/.test(e.message));
});
