/**
 * Ring buffer consumer throughput: records per second consumed by bpfmap's `RingBuffer` against
 * a C consumer using libbpf's `ring_buffer__poll` (bench/ringbuf_baseline.c), on the same
 * producer (test/fixtures/events_bench.bpf.c, 64 records of 16 bytes per run) in the same run.
 *
 * - drain, cold: a fresh reader drains a 2M-record backlog from a 64 MiB ring; its first pass
 *   over the mapping takes a page fault per 4 KiB, on both sides.
 * - drain, warm: the same reader drains further backlogs (the steady state of a long-lived
 *   consumer, whose mapping is faulted in after one lap).
 * - live: the consumer waits (epoll) while a bpftool process produces 2M records; timed from
 *   the first record's callback to the return of the poll that delivered the last. Usually
 *   bounded by the producer. The C consumer uses `ring_buffer__poll`, bpfmap `poll()` (copies).
 *
 * Blocks of C and JavaScript rounds alternate, and each figure is the best of its rounds, so
 * other load on the machine affects both sides alike. Run: `node dist/bench/events.js`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RingBuffer, type RecordView } from '../src/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RECORDS = 2_000_000; // 2M * 24 bytes fits the 64 MiB ring
const BLOCKS = 3;
const ROUNDS_PER_READER = 4; // round 0 is cold; round 1 still touches fresh pages; 2.. are warm
const FIRST_WARM_ROUND = 2;

function build(work: string): { object: string; baseline: string } {
  const object = path.join(work, 'events_bench.bpf.o');
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${triplet}`, '-c', path.join(repoRoot, 'test/fixtures/events_bench.bpf.c'), '-o', object]);
  const baseline = path.join(work, 'ringbuf_baseline');
  execFileSync('cc', ['-O2', '-o', baseline, path.join(repoRoot, 'bench/ringbuf_baseline.c'), '-lbpf']);
  return { object, baseline };
}

type Row = 'C drain' | 'JS drain';
interface Rates {
  cold: number[];
  warm: number[];
  live: number[];
}

function exitOf(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'bpfmap-bench-events-'));
  const pins = `/sys/fs/bpf/bpfmap-bench-events-${process.pid}`;
  try {
    const { object, baseline } = build(work);
    mkdirSync(pins);
    execFileSync('bpftool', ['prog', 'loadall', object, `${pins}/progs`, 'pinmaps', `${pins}/maps`]);
    const packet = path.join(work, 'packet');
    writeFileSync(packet, new Uint8Array(64));
    const program = `${pins}/progs/produce`;
    const producerArgs = ['prog', 'run', 'pinned', program, 'data_in', packet, 'repeat', String(RECORDS / 64)];
    const produce = (): void => void execFileSync('bpftool', producerArgs);
    const mapPath = `${pins}/maps/events`;
    const names = ['libbpf ring_buffer__poll (C)', 'RingBuffer.consumeViews', 'RingBuffer.consume (copies)'] as const;
    const results = new Map<string, Rates>(names.map((name) => [name, { cold: [], warm: [], live: [] }]));
    const record = (name: string, round: number, seconds: number): void => {
      const rates = results.get(name)!;
      if (round === 0) rates.cold.push(RECORDS / seconds);
      if (round >= FIRST_WARM_ROUND) rates.warm.push(RECORDS / seconds);
    };
    let sum = 0;

    for (let block = 0; block < BLOCKS; block++) {
      const c = JSON.parse(
        execFileSync(baseline, ['drain', mapPath, program, String(RECORDS), String(ROUNDS_PER_READER)], { encoding: 'utf8' }),
      ) as { seconds: number[] };
      c.seconds.forEach((seconds, round) => record(names[0], round, seconds));

      for (const name of [names[1], names[2]]) {
        using events = RingBuffer.open(mapPath);
        for (let round = 0; round < ROUNDS_PER_READER; round++) {
          produce();
          const start = process.hrtime.bigint();
          const got =
            name === names[1]
              ? events.consumeViews((view) => {
                  sum += view.u32(0);
                })
              : events.consume((data) => {
                  sum += data[0]!;
                });
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          if (got !== RECORDS) throw new Error(`${name} got ${got} of ${RECORDS}`);
          record(name, round, seconds);
        }
      }

      // Live: the consumer is ready (waiting in epoll) before the producer starts.
      const consumer = spawn(baseline, ['live', mapPath, String(RECORDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const consumerDone = exitOf(consumer, 'the C consumer');
      let output = '';
      await new Promise<void>((resolve) => {
        consumer.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.startsWith('ready\n')) resolve();
        });
      });
      await Promise.all([exitOf(spawn('bpftool', producerArgs, { stdio: 'ignore' }), 'bpftool'), consumerDone]);
      const live = JSON.parse(output.slice('ready\n'.length)) as { records: number; seconds: number };
      if (live.records !== RECORDS) throw new Error(`live C consumer got ${live.records} of ${RECORDS}`);
      results.get(names[0])!.live.push(RECORDS / live.seconds);

      for (const views of [false, true]) {
        using events = RingBuffer.open(mapPath);
        const producer = exitOf(spawn('bpftool', producerArgs, { stdio: 'ignore' }), 'bpftool');
        let got = 0;
        let first = 0;
        let last = 0;
        const take = (data: Uint8Array): void => {
          if (first === 0) first = Number(process.hrtime.bigint());
          sum += data[0]!;
        };
        const takeView = (view: RecordView): void => {
          if (first === 0) first = Number(process.hrtime.bigint());
          sum += view.u32(0);
        };
        let progress = Date.now();
        while (got < RECORDS) {
          // 0 before the timeout: woken for a record that is still being written (BUSY).
          const n = views ? events.pollViews(1000, takeView) : events.poll(1000, take);
          if (n === 0 && Date.now() - progress >= 1000) break;
          if (n === 0) continue;
          progress = Date.now();
          last = Number(process.hrtime.bigint());
          got += n;
        }
        await producer;
        if (got !== RECORDS) throw new Error(`live JS consumer got ${got} of ${RECORDS}`);
        results.get(names[views ? 1 : 2])!.live.push(RECORDS / ((last - first) / 1e9));
      }
    }
    if (sum < 0) console.log(sum); // keep the reads alive

    const best = (rates: number[]): number => Math.max(...rates);
    const c = results.get(names[0])!;
    console.log(`ring buffer, ${RECORDS.toLocaleString()} records of 16 bytes, best of ${BLOCKS} blocks (M records/s, ratio to C)`);
    console.log(`  ${''.padEnd(30)} ${'drain, cold'.padStart(16)} ${'drain, warm'.padStart(16)} ${'live'.padStart(16)}`);
    const cell = (rates: number[], cRates: number[]): string =>
      rates.length === 0 ? ''.padStart(16) : `${(best(rates) / 1e6).toFixed(1).padStart(8)} ${(best(rates) / best(cRates)).toFixed(2)}x`.padStart(16);
    for (const [name, rates] of results) {
      console.log(`  ${name.padEnd(30)} ${cell(rates.cold, c.cold)} ${cell(rates.warm, c.warm)} ${cell(rates.live, c.live)}`);
    }
  } finally {
    rmSync(pins, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
