/**
 * A fuzz test of the public API: random arguments to every public method of maps (and the
 * static constructors, records and event readers) for a bounded time. Every throw must be an
 * Error with a string `code`, nothing may crash, and a call that throws must leave every map as
 * it was. BPFMAP_FUZZ_MS sets the time (default 25 s); BPFMAP_FUZZ_SEED replays a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, BpfRecord, BatchCursor, RingBuffer, UserRingBuffer, arrayOf, lpmKeyCodec, typedMap } from '../../src/index.js';
import { needs } from '../helpers.js';
import { hasCode, snapshot } from './coded.js';

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Liar extends Uint8Array {
  override get length(): number {
    return 4;
  }
}

test('random arguments to the public API: typed errors only, maps unchanged after failures', needs(), (t) => {
  const seed = Number(process.env.BPFMAP_FUZZ_SEED ?? Date.now() % 2 ** 31);
  const budgetMs = Number(process.env.BPFMAP_FUZZ_MS ?? 25_000);
  const random = generator(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (n: number): number => Math.floor(random() * n);

  const maps: Array<BpfMap<unknown, unknown>> = [
    BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }) as BpfMap<unknown, unknown>,
    BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 }) as BpfMap<unknown, unknown>,
    BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 2 }) as BpfMap<unknown, unknown>,
    BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 4 }) as BpfMap<unknown, unknown>,
    BpfMap.create({ type: 'bloom_filter', keySize: 0, valueSize: 4, maxEntries: 4 }) as BpfMap<unknown, unknown>,
    BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 4, flags: ['NO_PREALLOC'] }, { key: lpmKeyCodec(4) }) as BpfMap<unknown, unknown>,
  ];
  const hash = maps[0]!;
  maps.push(hash.withCodecs(new BpfRecord('I'), new BpfRecord([['a', 'I'], ['b', 'I']])) as BpfMap<unknown, unknown>);
  const ring = BpfMap.create({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const userRing = BpfMap.create({ type: 'user_ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const raw = (map: BpfMap<unknown, unknown>): BpfMap => BpfMap.fromFd(map.fd);
  const rawViews = maps.map(raw);
  // Keyless maps cannot be listed: a queue shows its head, a bloom filter nothing.
  const state = (view: BpfMap): string[] =>
    view.typeName === 'queue' ? [String(view.peek())] : view.typeName === 'bloom_filter' ? [] : snapshot(view.entries());

  const thrower = { get a(): never { throw new Error('getter'); } };
  const values = (): unknown => {
    switch (int(24)) {
      case 0: return undefined;
      case 1: return null;
      case 2: return pick([0, 1, 2, 3, 4, 5, 7, 8, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, NaN, Infinity, -0]);
      case 3: return pick([0n, 1n, -1n, 2n ** 64n, 5n]);
      case 4: return pick(['', 'any', 'noexist', 'exist', 'lock', 'toString', '__proto__', 'hash', '\0', 'x'.repeat(300), '/sys/fs/bpf/\0x', 'Q', '4I', '100000000Q']);
      case 5: return Symbol('fuzz');
      case 6: return {};
      case 7: return [];
      case 8: return Array.from({ length: int(4) }, values);
      case 9: case 10: case 11: return new Uint8Array(pick([0, 1, 3, 4, 5, 8, 9, 16, 4 * 8]));
      case 12: return new Uint32Array(int(3));
      case 13: return new Proxy(new Uint8Array(4), {});
      case 14: return Object.create(Uint8Array.prototype);
      case 15: return new Liar(64);
      case 16: return () => 1;
      case 17: return thrower;
      case 18: return new BatchCursor(pick([4, 8]));
      case 19: return { count: values(), cursor: values(), batchSize: values(), delete: values() };
      case 20: return { prefixLen: values(), data: values() };
      case 21: return [values(), values()];
      case 22: return { a: values(), b: values(), c: values() };
      default: return int(10);
    }
  };
  const args = (): unknown[] => Array.from({ length: int(4) }, values);
  const drain = (result: unknown): void => {
    if (result && typeof result === 'object' && typeof (result as Iterator<unknown>).next === 'function' && Symbol.iterator in result) {
      let steps = 0;
      for (const _ of result as Iterable<unknown>) if (++steps > 64) break;
    }
    if (result instanceof BpfMap && !maps.includes(result as BpfMap<unknown, unknown>)) result.close();
  };
  const methods = [
    'get', 'getInto', 'set', 'delete', 'has', 'getAndDelete', 'nextKey', 'push', 'pop', 'peek', 'add', 'mayContain',
    'getId', 'getBatch', 'getAndDeleteBatch', 'batches', 'setBatch', 'deleteBatch', 'entries', 'keys', 'values',
    'withCodecs', 'typed', 'setFd', 'setInnerMap', 'openInnerMap',
  ] as const;
  const statics: Array<() => unknown> = [
    () => BpfMap.create(values() as never, values() as never),
    () => BpfMap.create({ type: pick(['hash', 'array', 'queue', 0, 99, values()]), keySize: values(), valueSize: values(), maxEntries: values(), flags: values(), mapExtra: values(), btf: values(), innerMap: values(), name: values() } as never),
    () => BpfMap.fromId(values() as never),
    () => BpfMap.openPinned(values() as never, values() as never),
    () => BpfMap.fromFd(values() as never),
    () => new BpfRecord(values() as never, values() as never),
    () => arrayOf(values() as never, values() as never),
    () => typedMap(pick(maps)),
    () => RingBuffer.open(pick([ring, values()]) as never, values() as never).close(),
    () => UserRingBuffer.open(pick([userRing, values()]) as never).close(),
  ];

  const failures: string[] = [];
  const describeArgs = (list: unknown[]): string => list.map((a) => {
    try {
      return typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? 'Symbol' : a instanceof Uint8Array ? `Uint8Array(${a.byteLength})` : JSON.stringify(a) ?? String(a);
    } catch {
      return typeof a;
    }
  }).join(', ');
  const deadline = Date.now() + budgetMs;
  let calls = 0;
  let thrown = 0;
  while (Date.now() < deadline && failures.length < 10) {
    calls++;
    const index = int(maps.length + 2);
    let label: string;
    let call: () => unknown;
    let callArgs: unknown[] = [];
    if (index < maps.length) {
      const map = maps[index]!;
      const method = pick(methods);
      callArgs = args();
      label = `${map.typeName}#${index}.${method}(${describeArgs(callArgs)})`;
      call = () => (map[method] as (...a: unknown[]) => unknown)(...callArgs);
    } else {
      const which = int(statics.length);
      label = `static #${which}`;
      call = statics[which]!;
    }
    const before = rawViews.map(state);
    try {
      drain(call());
    } catch (error) {
      thrown++;
      // The getter's own Error is user code throwing through the library, as it should.
      if (!hasCode(error) && (error as Error).message !== 'getter') failures.push(`${label}: uncoded ${String(error)} (seed ${seed})`);
      const after = rawViews.map(state);
      for (let i = 0; i < maps.length; i++) {
        if (JSON.stringify(after[i]) !== JSON.stringify(before[i])) failures.push(`${label}: threw ${String(error)} but changed map #${i} (seed ${seed})`);
      }
    }
  }
  for (const view of rawViews) view.close();
  for (const map of maps) map.close();
  ring.close();
  userRing.close();
  t.diagnostic(`seed ${seed}: ${calls} calls in ${budgetMs} ms, ${thrown} threw`);
  assert.deepEqual(failures, [], `seed ${seed}`);
  assert.ok(calls > 1000, `${calls} calls made`);
  assert.ok(thrown > calls / 4, `most calls are bad input: ${thrown} of ${calls} threw`);
});
