/**
 * Ring buffer consumer throughput: records per second drained by bpfmap's `RingBuffer` against
 * a C consumer using libbpf's `ring_buffer__poll`, on the same producer in the same run.
 *
 * The producer (test/fixtures/events_bench.bpf.c, 64 records of 16 bytes per run) fills a
 * 64 MiB ring with a backlog; each consumer then drains the same number of records, so the
 * figure is the consumer's own speed, not the producer's. Run: `node dist/bench/events.js`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RingBuffer } from '../src/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RECORDS = 2_000_000; // 2M * 24 bytes fits the 64 MiB ring
const ROUNDS = 3;

function build(work: string): { object: string; baseline: string } {
  const object = path.join(work, 'events_bench.bpf.o');
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${triplet}`, '-c', path.join(repoRoot, 'test/fixtures/events_bench.bpf.c'), '-o', object]);
  const baseline = path.join(work, 'ringbuf_baseline');
  execFileSync('cc', ['-O2', '-o', baseline, path.join(repoRoot, 'bench/ringbuf_baseline.c'), '-lbpf']);
  return { object, baseline };
}

function main(): void {
  const work = mkdtempSync(path.join(tmpdir(), 'bpfmap-bench-events-'));
  const pins = `/sys/fs/bpf/bpfmap-bench-events-${process.pid}`;
  try {
    const { object, baseline } = build(work);
    mkdirSync(pins);
    execFileSync('bpftool', ['prog', 'loadall', object, `${pins}/progs`, 'pinmaps', `${pins}/maps`]);
    const packet = path.join(work, 'packet');
    writeFileSync(packet, new Uint8Array(64));
    const produce = (): void => {
      execFileSync('bpftool', ['prog', 'run', 'pinned', `${pins}/progs/produce`, 'data_in', packet, 'repeat', String(RECORDS / 64)]);
    };
    const mapPath = `${pins}/maps/events`;
    const results: Record<string, number[]> = { 'libbpf ring_buffer__poll (C)': [], 'RingBuffer.consumeViews': [], 'RingBuffer.consume (copies)': [] };

    for (let round = 0; round < ROUNDS; round++) {
      produce();
      const c = JSON.parse(execFileSync(baseline, [mapPath, String(RECORDS)], { encoding: 'utf8' })) as { records: number; seconds: number };
      if (c.records !== RECORDS) throw new Error(`C consumer got ${c.records} of ${RECORDS}`);
      results['libbpf ring_buffer__poll (C)']!.push(c.records / c.seconds);

      using events = RingBuffer.open(mapPath);
      produce();
      let sum = 0;
      let start = process.hrtime.bigint();
      let got = events.consumeViews((record) => {
        sum += record.u32(0);
      });
      let seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (got !== RECORDS) throw new Error(`consumeViews got ${got} of ${RECORDS}`);
      results['RingBuffer.consumeViews']!.push(got / seconds);

      produce();
      start = process.hrtime.bigint();
      got = events.consume((data) => {
        sum += data[0]!;
      });
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (got !== RECORDS) throw new Error(`consume got ${got} of ${RECORDS}`);
      results['RingBuffer.consume (copies)']!.push(got / seconds);
      if (sum < 0) console.log(sum); // keep the reads alive
    }

    const best = (rates: number[]): number => Math.max(...rates);
    const cRate = best(results['libbpf ring_buffer__poll (C)']!);
    console.log(`ring buffer drain, ${RECORDS.toLocaleString()} records of 16 bytes, best of ${ROUNDS}`);
    for (const [name, rates] of Object.entries(results)) {
      const rate = best(rates);
      console.log(`  ${name.padEnd(32)} ${(rate / 1e6).toFixed(2).padStart(7)} M records/s  ${(rate / cRate).toFixed(2)}x of C`);
    }
  } finally {
    rmSync(pins, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main();
