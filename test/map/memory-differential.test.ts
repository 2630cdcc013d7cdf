/**
 * MemoryMap against the kernel: one seeded random sequence of operations (set with each flag,
 * get, getInto, has, delete, getAndDelete, nextKey walks, setBatch, deleteBatch, getBatch pages,
 * batches, push/pop/peek, add/has, clear, iteration, freeze, argument mistakes) runs on a kernel
 * map and on a memory map of the same spec. Every result, every error (class, code, errno,
 * command, `processed`) and, after each step, the whole contents must be the same.
 *
 * What is compared where the kernel's answer is not a fact of the map but of its layout: hash
 * maps iterate in hash order in the kernel and in insertion order in memory, so their entries,
 * walks and pages are compared as sets, and a next-key step only as "a key of the map, or the
 * end". Bloom filters: a value added must be found by both; for others the memory filter must say
 * no and the kernel may say yes (a false positive). LRU maps stay below max_entries here, where
 * nothing is evicted; eviction is compared on its invariants in memory-map.test.ts.
 *
 * BPFMAP_DIFF_SEED=n runs another sequence; BPFMAP_DIFF_STEPS=n a longer one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, MemoryMap, BpfBatchError, BatchCursor, type BpfMapLike, type MapSpec } from '../../src/index.js';
import { needs } from '../helpers.js';

const SEED = Number(process.env.BPFMAP_DIFF_SEED ?? 20261206);
const STEPS = Number(process.env.BPFMAP_DIFF_STEPS ?? 400);

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Any = BpfMapLike<unknown, unknown>;

/** A result or error in comparable form: bytes as hex, errors by class, code, errno, command and processed. */
function norm(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(norm);
  if (value instanceof Error) {
    const error = value as Error & { code?: string; errno?: number; command?: string; processed?: number };
    return {
      error: error.constructor.name, code: error.code,
      ...(error.errno !== undefined ? { errno: error.errno } : {}),
      ...(error.command !== undefined ? { command: error.command } : {}),
      ...(error instanceof BpfBatchError ? { processed: error.processed } : {}),
    };
  }
  if (value instanceof BatchCursor) return 'cursor';
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, norm(item)]));
  }
  return value;
}

function outcome(run: () => unknown): unknown {
  try {
    return { ok: norm(run()) };
  } catch (error) {
    return norm(error);
  }
}

const byKey = (a: unknown, b: unknown): number => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0);

interface Case {
  readonly spec: MapSpec;
  /** Distinct keys (or values, for bloom filters and queues) the sequence draws from. */
  readonly keySpace: number;
  /** Hash order differs from memory order: compare as sets. */
  readonly unordered: boolean;
}

const cases: Case[] = [
  { spec: { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'diff_hash' }, keySpace: 16, unordered: true },
  { spec: { type: 'hash', keySize: 12, valueSize: 3, maxEntries: 6, flags: ['NO_PREALLOC'], name: 'diff_hash12' }, keySpace: 12, unordered: true },
  { spec: { type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 6, name: 'diff_pchash' }, keySpace: 12, unordered: true },
  { spec: { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 256, name: 'diff_lru' }, keySpace: 12, unordered: true },
  { spec: { type: 'lru_percpu_hash', keySize: 8, valueSize: 4, maxEntries: 256, name: 'diff_lrupc' }, keySpace: 10, unordered: true },
  { spec: { type: 'array', keySize: 4, valueSize: 8, maxEntries: 6, name: 'diff_array' }, keySpace: 8, unordered: false },
  { spec: { type: 'percpu_array', keySize: 4, valueSize: 12, maxEntries: 5, name: 'diff_parray' }, keySpace: 7, unordered: false },
  { spec: { type: 'queue', valueSize: 4, maxEntries: 5, name: 'diff_queue' }, keySpace: 50, unordered: false },
  { spec: { type: 'stack', valueSize: 4, maxEntries: 5, name: 'diff_stack' }, keySpace: 50, unordered: false },
  { spec: { type: 'bloom_filter', valueSize: 4, maxEntries: 128, mapExtra: 3, name: 'diff_bloom' }, keySpace: 40, unordered: false },
];

/** Two maps of one spec and the operations that compare them. */
class Pair {
  readonly steps: string[] = [];
  /** Error codes both maps gave, to check that the sequence reached them. */
  readonly codes = new Set<string>();

  constructor(readonly kernel: Any, readonly memory: Any, readonly testCase: Case, readonly next: () => number) {}

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  key(index = this.int(this.testCase.keySpace)): Uint8Array {
    const key = new Uint8Array(this.kernel.keySize);
    new DataView(key.buffer).setUint32(0, index, true);
    if (key.length > 4) key[key.length - 1] = index * 7;
    return key;
  }

  element(): Uint8Array {
    const bytes = new Uint8Array(this.kernel.valueSize);
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.int(256);
    return bytes;
  }

  value(): unknown {
    if (!this.kernel.perCpu) return this.element();
    return Array.from({ length: this.memory.valueBufferSize / (Math.ceil(this.kernel.valueSize / 8) * 8) }, () => this.element());
  }

  /** Runs one operation on both maps and asserts the same outcome. */
  same(label: string, run: (map: Any) => unknown, compare: (kernel: unknown, memory: unknown) => void = (k, m) => assert.deepEqual(m, k)): void {
    this.steps.push(label);
    const kernel = outcome(() => run(this.kernel));
    const memory = outcome(() => run(this.memory));
    const code = (kernel as { code?: string }).code;
    if (code !== undefined) this.codes.add(`${(kernel as { command?: string }).command ?? ''} ${code}`);
    try {
      compare(kernel, memory);
    } catch (error) {
      if (error instanceof Error) error.message = `step ${this.steps.length} (${label}) of seed ${SEED}, after ${this.steps.slice(-6, -1).join(', ')}:\n${error.message}`;
      throw error;
    }
  }

  /** Both maps' whole contents. */
  contents(): void {
    if (this.testCase.spec.type === 'queue' || this.testCase.spec.type === 'stack') {
      this.same('peek', (map) => (map as BpfMapLike).peek());
      return;
    }
    if (this.testCase.spec.type === 'bloom_filter') return;
    const sort = (entries: unknown): unknown => (this.testCase.unordered && (entries as { ok?: unknown }).ok ? { ok: ((entries as { ok: unknown[] }).ok).slice().sort(byKey) } : entries);
    this.same('entries', (map) => [...map.entries()], (k, m) => assert.deepEqual(sort(m), sort(k)));
  }
}

function keyedStep(pair: Pair): void {
  const { pick } = { pick: pair.pick.bind(pair) };
  const flags = [undefined, 'any', 'noexist', 'exist', 'noexist', 'exist', 'lock', 3, 8] as const;
  const op = pair.int(100);
  const unordered = pair.testCase.unordered;
  const asSet = (k: unknown, m: unknown): void => {
    const sorted = (r: unknown): unknown => ((r as { ok?: unknown }).ok !== undefined && Array.isArray((r as { ok: unknown }).ok) ? { ok: ((r as { ok: unknown[] }).ok).slice().sort(byKey) } : r);
    assert.deepEqual(sorted(m), sorted(k));
  };
  if (op < 35) {
    const key = pair.key();
    const value = pair.value();
    const flag = pick(flags);
    pair.same(`set ${norm(key)} ${String(flag)}`, (map) => (map.set(key, value, flag as 'any'), 'done'));
  } else if (op < 43) {
    const key = pair.key();
    pair.same(`get ${norm(key)}`, (map) => map.get(key));
  } else if (op < 46) {
    const key = pair.key();
    const target = new Uint8Array(pair.memory.valueBufferSize);
    pair.same(`getInto ${norm(key)}`, (map) => (map.getInto(key, target) ? target : false));
  } else if (op < 51) {
    const key = pair.key();
    pair.same(`has ${norm(key)}`, (map) => map.has(key));
  } else if (op < 56) {
    const key = pair.key();
    pair.same(`delete ${norm(key)}`, (map) => map.delete(key));
  } else if (op < 59) {
    const key = pair.key();
    pair.same(`getAndDelete ${norm(key)}`, (map) => map.getAndDelete(key));
  } else if (op < 63) {
    const key = pair.int(3) === 0 ? undefined : pair.key();
    if (unordered) {
      // A key of the map, or the end: which key comes next is the hash table's business.
      // After a key that is in the map, the end or another key of it; otherwise the first key.
      const present = key !== undefined && pair.memory.has(key);
      pair.same(`nextKey ${key && norm(key)}`, (map) => {
        const next = map.nextKey(key);
        if (next === undefined) return present ? 'end or a key' : 'end';
        return map.has(next) ? (present ? 'end or a key' : 'a key') : 'not a key';
      });
    } else {
      pair.same(`nextKey ${key && norm(key)}`, (map) => map.nextKey(key));
    }
    pair.same('walk', (map) => {
      const keys: unknown[] = [];
      for (let k = map.nextKey(); k !== undefined; k = map.nextKey(k)) keys.push(k);
      return keys;
    }, unordered ? asSet : undefined);
  } else if (op < 73) {
    const count = 1 + pair.int(5);
    const entries = Array.from({ length: count }, () => [pair.key(), pair.value()] as const);
    const flag = pick([undefined, undefined, 'noexist', 'exist', 'lock'] as const);
    pair.same(`setBatch ${count} ${String(flag)}`, (map) => map.setBatch(entries, flag));
  } else if (op < 77) {
    const keys = Array.from({ length: 1 + pair.int(4) }, () => pair.key());
    pair.same(`deleteBatch ${keys.length}`, (map) => map.deleteBatch(keys));
  } else if (op < 84) {
    const count = 1 + pair.int(unordered ? 8 : 4);
    pair.same(`getBatch pages of ${count}`, (map) => {
      const all: unknown[] = [];
      let page = map.getBatch({ count });
      let pages = 1;
      for (;;) {
        all.push(...page.entries);
        if (page.done) break;
        page = map.getBatch({ cursor: page.cursor, count });
        if (++pages > 100) throw new Error('getBatch does not end');
      }
      return unordered ? all : [all, pages];
    }, unordered ? asSet : undefined);
  } else if (op < 88) {
    const batchSize = 1 + pair.int(5);
    pair.same(`batches of ${batchSize}`, (map) => {
      const keys: unknown[] = [];
      for (const batch of map.batches({ batchSize })) {
        for (let i = 0; i < batch.count; i++) keys.push([batch.keys.slice(i * batch.keySize, (i + 1) * batch.keySize), batch.values.slice(i * batch.valueStride, (i + 1) * batch.valueStride)]);
      }
      return keys;
    }, unordered ? asSet : undefined);
  } else if (op < 89) {
    pair.same('batches delete', (map) => {
      const keys: unknown[] = [];
      for (const batch of map.batches({ delete: true, batchSize: 3 })) keys.push(batch.count);
      return keys.reduce((a, b) => (a as number) + (b as number), 0);
    });
  } else if (op < 90) {
    pair.same('getAndDeleteBatch (all pages)', (map) => {
      const all: unknown[] = [];
      let cursor: BatchCursor | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = map.getAndDeleteBatch({ count: 4, ...(cursor ? { cursor } : {}) });
        all.push(...page.entries);
        if (page.done) break;
        cursor = page.cursor;
      }
      return all;
    }, asSet);
  } else if (op < 91) {
    pair.same('clear', (map) => (map.clear(), 'done'));
  } else if (op < 95) {
    const bad = pick([new Uint8Array(pair.kernel.keySize + 1), 'text', null, [1, 2]] as const);
    pair.same(`bad key ${String(bad)}`, (map) => map.get(bad as unknown));
    pair.same(`bad value ${String(bad)}`, (map) => map.set(pair.key(0), bad as unknown));
    pair.same('bad flag', (map) => map.set(pair.key(0), pair.value(), 'sometimes' as 'any'));
  } else {
    pair.same('keys and values', (map) => [[...map.keys()].length, [...map.values()].length]);
  }
}

function queueStep(pair: Pair): void {
  const op = pair.int(100);
  if (op < 45) {
    const value = pair.value();
    const flag = pair.pick([undefined, 'any', 'exist', 'noexist', 'lock'] as const);
    pair.same(`push ${String(flag)}`, (map) => ((map as BpfMapLike).push(value as Uint8Array, flag), 'done'));
  } else if (op < 75) {
    pair.same('pop', (map) => (map as BpfMapLike).pop());
  } else if (op < 90) {
    pair.same('peek', (map) => (map as BpfMapLike).peek());
  } else if (op < 94) {
    pair.same('clear', (map) => (map.clear(), 'done'));
  } else if (op < 97) {
    pair.same('set on a queue', (map) => (map as BpfMapLike).set(new Uint8Array(0), pair.value() as Uint8Array));
    pair.same('bad value', (map) => (map as BpfMapLike).push(new Uint8Array(3)));
  }
}

function bloomStep(pair: Pair, added: Set<string>): void {
  const op = pair.int(100);
  const value = new Uint8Array(4);
  const index = pair.int(pair.testCase.keySpace);
  new DataView(value.buffer).setUint32(0, index * 2654435761, true);
  if (op < 50) {
    pair.same('add', (map) => ((map as BpfMapLike).add(value), 'done'));
    if (!pair.memory.frozen) added.add(norm(value) as string);
  } else if (op < 95) {
    pair.same(`has ${norm(value)}`, (map) => map.mayContain(value), (k, m) => {
      if (added.has(norm(value) as string)) {
        assert.deepEqual(k, { ok: true });
        assert.deepEqual(m, { ok: true });
      } else {
        assert.deepEqual(m, { ok: false }, 'the memory bloom filter is exact');
        assert.ok((k as { ok?: unknown }).ok !== undefined, 'the kernel answers too');
      }
    });
  } else if (op < 98) {
    pair.same('delete on a bloom filter', (map) => map.delete(new Uint8Array(0)));
    pair.same('pop on a bloom filter', (map) => (map as BpfMapLike).pop());
  }
}

/** Answers each map type's sequence must have met (beyond successes), as "COMMAND CODE". */
const expectedCodes: Record<string, readonly string[]> = {
  hash: ['MAP_UPDATE_ELEM EEXIST', 'MAP_UPDATE_ELEM ENOENT', 'MAP_UPDATE_ELEM E2BIG', 'MAP_UPDATE_BATCH E2BIG', 'MAP_DELETE_BATCH ENOENT', 'MAP_UPDATE_ELEM EPERM', 'MAP_UPDATE_ELEM EINVAL', ' ERR_BPFMAP_KEY_SIZE', ' ERR_BPFMAP_FLAGS'],
  lru_hash: ['MAP_UPDATE_ELEM EEXIST', 'MAP_UPDATE_ELEM ENOENT', 'MAP_DELETE_BATCH ENOENT', 'MAP_UPDATE_ELEM EPERM'],
  array: ['MAP_UPDATE_ELEM EEXIST', 'MAP_UPDATE_ELEM E2BIG', 'MAP_DELETE_ELEM EINVAL', 'MAP_LOOKUP_AND_DELETE_ELEM ENOTSUPP', 'MAP_UPDATE_ELEM EPERM'],
  queue: ['MAP_UPDATE_ELEM E2BIG', 'MAP_UPDATE_ELEM EINVAL', 'MAP_UPDATE_ELEM EPERM', ' ERR_BPFMAP_OPERATION'],
  bloom_filter: ['MAP_UPDATE_ELEM EPERM', ' ERR_BPFMAP_OPERATION'],
};

for (const testCase of cases) {
  test(`memory and kernel ${testCase.spec.type} (${testCase.spec.name}) answer a random sequence alike`, needs(), () => {
    using kernel = BpfMap.create(testCase.spec) as unknown as BpfMap<unknown, unknown>;
    using memory = MemoryMap.create(testCase.spec) as unknown as MemoryMap<unknown, unknown>;
    const next = random(SEED ^ testCase.spec.name!.length * 0x9e3779b1 ^ testCase.spec.name!.charCodeAt(5));
    const pair = new Pair(kernel as Any, memory as Any, testCase, next);
    const added = new Set<string>();
    for (let step = 0; step < STEPS; step++) {
      // Late in the sequence, freeze both: from then on every write must be refused alike.
      if (step === Math.floor(STEPS * 0.85)) pair.same('freeze', (map) => (map.freeze(), map.frozen));
      if (step === Math.floor(STEPS * 0.85) + 1) pair.same('freeze again', (map) => (map.freeze(), map.frozen));
      if (testCase.spec.type === 'queue' || testCase.spec.type === 'stack') queueStep(pair);
      else if (testCase.spec.type === 'bloom_filter') bloomStep(pair, added);
      else keyedStep(pair);
      pair.contents();
    }
    if (testCase.spec.type === 'queue' || testCase.spec.type === 'stack') {
      pair.same('drain', (map) => {
        const values: unknown[] = [];
        for (let value = (map as BpfMapLike).pop(); value !== undefined; value = (map as BpfMapLike).pop()) values.push(value);
        return values;
      });
    }
    // The sequence reached the interesting answers, not only successes.
    const family = String(testCase.spec.type).replace(/^(lru_)?(percpu_)?/, (_all: string, lru: string | undefined) => lru ?? '').replace(/^stack$/, 'queue');
    const missing = (expectedCodes[family] ?? []).filter((code) => !pair.codes.has(code));
    assert.deepEqual(missing, [], `answers met: ${[...pair.codes].sort().join(', ')}`);
  });
}

test('memory and kernel refuse the same specs with the same errors', needs(), () => {
  const specs: MapSpec[] = [
    { type: 'hash', keySize: 0, valueSize: 4, maxEntries: 4 },
    { type: 'hash', keySize: 4, valueSize: 0, maxEntries: 4 },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 0 },
    { type: 'hash', keySize: 513, valueSize: 4, maxEntries: 4 },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, flags: ['MMAPABLE'] },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, flags: ['NO_COMMON_LRU'] },
    { type: 'lru_hash', keySize: 4, valueSize: 4, maxEntries: 4, flags: ['NO_PREALLOC'] },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, mapExtra: 3 },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, flags: ['RDONLY', 'WRONLY'] },
    { type: 'percpu_hash', keySize: 4, valueSize: 40000, maxEntries: 4 },
    { type: 'array', keySize: 8, valueSize: 4, maxEntries: 4 },
    { type: 'array', keySize: 4, valueSize: 0, maxEntries: 4 },
    { type: 'array', keySize: 4, valueSize: 4, maxEntries: 0 },
    { type: 'array', keySize: 4, valueSize: 4, maxEntries: 4, flags: ['NO_PREALLOC'] },
    { type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 4, mmapable: true },
    { type: 'queue', keySize: 4, valueSize: 4, maxEntries: 4 },
    { type: 'queue', valueSize: 0, maxEntries: 4 },
    { type: 'stack', valueSize: 4, maxEntries: 0 },
    { type: 'stack', valueSize: 4, maxEntries: 4, flags: ['NO_PREALLOC'] },
    { type: 'bloom_filter', valueSize: 4, maxEntries: 4, mapExtra: 16 },
    { type: 'bloom_filter', keySize: 4, valueSize: 4, maxEntries: 4 } as MapSpec,
    { type: 'bloom_filter', valueSize: 0, maxEntries: 4 },
    { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'bad name!' },
    { type: 'hash', keySize: -1, valueSize: 4, maxEntries: 4 },
    { type: 'hashh' as 'hash', keySize: 4, valueSize: 4, maxEntries: 4 },
  ];
  for (const spec of specs) {
    const kernel = outcome(() => BpfMap.create(spec).close());
    const memory = outcome(() => MemoryMap.create(spec).close());
    assert.deepEqual(memory, kernel, JSON.stringify(spec));
  }
});
