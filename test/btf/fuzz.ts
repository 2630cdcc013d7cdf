/**
 * BTF fuzzing helpers shared by the fuzz tests: a deterministic mutator and `exerciseBtf`, which
 * runs every query, codec and formatter over a parsed blob. Malformed input may throw `BtfError`
 * and nothing else: any other exception, a crash or a hang is a bug.
 */
import assert from 'node:assert/strict';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { formatBtfValue } from '../../src/codec/btf/format.js';
import type { BtfType } from '../../src/codec/btf/types.js';

/** Parses `bytes` and runs every query, codec and formatter on every type (BtfErrors allowed). */
export function exerciseBtf(bytes: Uint8Array, parse: (bytes: Uint8Array) => Btf = (b) => Btf.parse(b)): void {
  const btf = parse(bytes);
  const zeros = new Uint8Array(4096);
  for (let id = 1; id <= btf.lastTypeId; id++) {
    const attempt = (action: () => unknown): void => {
      try {
        action();
      } catch (error) {
        if (!(error instanceof BtfError)) throw error;
      }
    };
    let type: BtfType | undefined;
    attempt(() => (type = btf.type(id)));
    if (!type) continue;
    attempt(() => btf.resolve(id));
    attempt(() => btf.alignment(id));
    attempt(() => {
      if (btf.size(id) > zeros.length) return;
      const codec = btfCodec(btf, id);
      const value = codec.decode(zeros, 0);
      codec.encode(value, new Uint8Array(codec.size), 0);
      formatBtfValue(btf, id, zeros);
    });
    if (type.name) attempt(() => btf.typesByName(type?.name ?? ''));
  }
}

/** Options of `fuzz`. */
export interface FuzzOptions {
  /** The blobs to mutate, taken in turn. */
  readonly seeds: readonly Uint8Array[];
  /** How many mutated blobs to run: a count, not a time, so a slow or busy machine runs the same cases. */
  readonly runs: number;
  /** What to run on each mutated blob (default `exerciseBtf`). */
  readonly exercise?: (bytes: Uint8Array) => void;
  /** Where in a seed to mutate: a byte range (default the whole blob). */
  readonly region?: (seed: Uint8Array, random: (n: number) => number) => readonly [start: number, end: number];
  /** Seed of the deterministic generator, so that a failure replays. */
  readonly seed?: number;
}

/**
 * Mutates the seeds (bit flips, small and huge u32s in either byte order, random bytes, and now
 * and then truncation), `runs` of them. Fails on anything but a BtfError, and on any single
 * run slower than a second (a near-hang). Returns the number of runs.
 */
export function fuzz(options: FuzzOptions): number {
  const { seeds, runs: total, exercise = exerciseBtf, region = (seed) => [0, seed.length] as const } = options;
  let state = options.seed ?? 12345;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return n <= 0 ? 0 : state % n;
  };
  let runs = 0;
  while (runs < total) {
    const source = seeds[runs % seeds.length] as Uint8Array;
    const bytes: Uint8Array = source.slice(0, random(8) === 0 ? random(source.length) : source.length);
    const view = new DataView(bytes.buffer);
    const [start, end] = region(source, random);
    const span = Math.max(1, Math.min(end, bytes.length) - start);
    const mutations = 1 + random(4);
    for (let i = 0; i < mutations && bytes.length >= start + 4; i++) {
      const at = Math.min(start + (random(span) & ~3), bytes.length - 4);
      const anywhere = start + random(span);
      switch (random(4)) {
        case 0: if (anywhere < bytes.length) bytes[anywhere] = (bytes[anywhere] as number) ^ (1 << random(8)); break;
        case 1: view.setUint32(at, random(64), random(2) === 0); break;
        case 2: view.setUint32(at, 0xffffffff - random(4), true); break;
        default: if (anywhere < bytes.length) bytes[anywhere] = random(256);
      }
    }
    const began = performance.now();
    try {
      exercise(bytes);
    } catch (error) {
      if (!(error instanceof BtfError)) {
        assert.fail(`run ${runs}: ${error instanceof Error ? error.stack ?? error.message : String(error)}\nfor blob ${Buffer.from(bytes).toString('hex')}`);
      }
    }
    const took = performance.now() - began;
    if (took > 1000) assert.fail(`run ${runs} took ${Math.round(took)} ms (near-hang) for blob ${Buffer.from(bytes).toString('hex')}`);
    runs++;
  }
  return runs;
}
