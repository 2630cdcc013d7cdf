/**
 * MemoryMap's element operations: set and get of fresh keys against a kernel BpfMap of the same
 * spec (the map it stands in for in tests) in the same run (best of 5 runs each), and lookups in a
 * map of 1M entries against a plain JavaScript Map of the same keys (goal: at least 0.5x, i.e. no
 * scan and little beyond the Map itself). The machine's other load shows as noise of ±20% or more.
 *
 * Run: `npm run build && node --expose-gc dist/bench/memory-map.js [--quick]`
 */
import { BpfMap, MemoryMap, type BpfMapLike } from '../src/index.js';
import { bestSeconds, rate, report, type BenchRow } from './harness.js';

const quick = process.argv.includes('--quick');
const COUNT = quick ? 20_000 : 200_000;

function keysOf(count: number, keySize: number): Uint8Array[] {
  return Array.from({ length: count }, (_v, i) => {
    const key = new Uint8Array(keySize);
    new DataView(key.buffer).setUint32(0, i * 2654435761, true);
    if (keySize > 4) key[keySize - 1] = i & 0xff;
    return key;
  });
}

function setAll(map: BpfMapLike, keys: Uint8Array[], value: Uint8Array): void {
  for (const key of keys) map.set(key, value);
}

function getAll(map: BpfMapLike, keys: Uint8Array[]): void {
  let found = 0;
  for (const key of keys) if (map.get(key) !== undefined) found++;
  if (found !== keys.length) throw new Error(`found ${found} of ${keys.length}`);
}

const rows: BenchRow[] = [];
const goals: Array<(row: BenchRow) => boolean | undefined> = [];
const value = new Uint8Array(8).fill(1);
const canUseKernel = process.getuid?.() === 0;
for (const keySize of [4, 16]) {
  const keys = keysOf(COUNT, keySize);
  const spec = { type: 'hash', keySize, valueSize: 8, maxEntries: COUNT } as const;
  using memory = MemoryMap.create(spec);
  const memorySet = bestSeconds(5, () => {
    memory.clear();
    setAll(memory, keys, value);
  });
  const memoryGet = bestSeconds(5, () => getAll(memory, keys));
  if (canUseKernel) {
    using kernel = BpfMap.create(spec);
    const kernelSet = bestSeconds(5, () => {
      kernel.clear();
      setAll(kernel, keys, value);
    });
    const kernelGet = bestSeconds(5, () => getAll(kernel, keys));
    rows.push({ name: `set ${COUNT} fresh ${keySize}-byte keys`, ours: rate(COUNT, memorySet), baseline: `kernel ${rate(COUNT, kernelSet)}`, ratio: kernelSet / memorySet, goal: 'informative' });
    rows.push({ name: `get ${COUNT} ${keySize}-byte keys`, ours: rate(COUNT, memoryGet), baseline: `kernel ${rate(COUNT, kernelGet)}`, ratio: kernelGet / memoryGet, goal: 'informative' });
    goals.push(() => undefined, () => undefined);
  }
}

// O(1): 10k lookups in a map of 1M entries against a plain JavaScript Map holding the same keys
// (as latin1 strings) and values, in interleaved rounds (medians). A big table is slower than a
// small one for both (cache misses); a scan would make MemoryMap thousands of times slower.
const BIG = quick ? 100_000 : 1_000_000;
const probe = keysOf(10_000, 16);
const big = MemoryMap.create({ type: 'hash', keySize: 16, valueSize: 8, maxEntries: BIG });
const plain = new Map<string, { key: Uint8Array; value: Uint8Array }>();
const latin1 = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
for (const key of keysOf(BIG, 16)) {
  big.set(key, value);
  plain.set(latin1(key), { key: key.slice(), value: value.slice() });
}
const memoryTimes: number[] = [];
const plainTimes: number[] = [];
for (let round = 0; round < 9; round++) {
  memoryTimes.push(bestSeconds(1, () => getAll(big, probe)));
  plainTimes.push(bestSeconds(1, () => {
    for (const key of probe) if (plain.get(latin1(key))?.value.slice() === undefined) throw new Error('missing');
  }));
}
const median = (times: number[]): number => times.sort((x, y) => x - y)[times.length >> 1]!;
rows.push({ name: `get 10k keys in a map of ${BIG}`, ours: rate(10_000, median(memoryTimes)), baseline: `JS Map ${rate(10_000, median(plainTimes))}`, ratio: median(plainTimes) / median(memoryTimes), goal: '≥ 0.5x (O(1))' });
goals.push((row) => row.ratio >= 0.5);
big.close();

report('MemoryMap element operations (ratio > 1: MemoryMap faster)', rows, goals);
