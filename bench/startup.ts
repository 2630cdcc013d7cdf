/**
 * CLI start-up: `bpfmap help` and a one-key `lookup` against `node -e ''` (the floor any Node.js
 * program pays) and `bpftool map lookup`, on the same pinned map, in interleaved rounds so that
 * the other helpers' load on this machine falls on every command alike. Reports medians of wall
 * time and of CPU time (user + system, from /usr/bin/time), which a busy machine disturbs less.
 *
 * Run as root after a build: `node dist/bench/startup.js [rounds]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../src/index.js';
import { cliBinPath, report, type BenchRow } from './harness.js';

const rounds = Number(process.argv.find((word) => /^\d+$/.test(word)) ?? (process.argv.includes('--quick') ? 9 : 31));
const cliPath = cliBinPath;
const hasGnuTime = existsSync('/usr/bin/time');

interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

/** Runs one command once: wall seconds, and CPU seconds when GNU time is there (else NaN). */
function runOnce(argv: readonly string[]): Sample {
  const start = process.hrtime.bigint();
  const result = hasGnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', ...argv], { encoding: 'utf8' })
    : spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  const times = hasGnuTime ? (result.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number) : [NaN, NaN];
  return { wall, cpu: (times[0] ?? NaN) + (times[1] ?? NaN) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const folder = mkdtempSync('/sys/fs/bpf/bpfmap-bench-startup-');
try {
  const pin = path.join(folder, 'counts');
  {
    using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'bench_start' });
    map.set(Uint8Array.of(1, 0, 0, 0), Uint8Array.of(42, 0, 0, 0, 0, 0, 0, 0));
    map.pin(pin);
  }
  const node = process.execPath;
  const commands: Record<string, readonly string[]> = {
    "node -e ''": [node, '-e', ''],
    'bpfmap help': [node, cliPath, 'help'],
    'bpfmap lookup': [node, cliPath, 'lookup', 'pinned', pin, 'key', '1', '0', '0', '0'],
    'bpfmap -j lookup': [node, cliPath, '-j', 'lookup', 'pinned', pin, 'key', '1', '0', '0', '0'],
    'bpftool map lookup': ['bpftool', 'map', 'lookup', 'pinned', pin, 'key', '1', '0', '0', '0'],
  };
  const samples = new Map<string, Sample[]>(Object.keys(commands).map((name) => [name, []]));
  // One warm-up round fills the page cache; then every round runs each command once.
  for (const argv of Object.values(commands)) runOnce(argv);
  for (let round = 0; round < rounds; round++) {
    for (const [name, argv] of Object.entries(commands)) samples.get(name)?.push(runOnce(argv));
  }
  const wall = (name: string): number => median((samples.get(name) ?? []).map((sample) => sample.wall));
  const cpu = (name: string): number => median((samples.get(name) ?? []).map((sample) => sample.cpu));
  const ms = (seconds: number): string => `${(seconds * 1000).toFixed(0)} ms`;
  const floor = wall("node -e ''");
  const rows: BenchRow[] = [
    { name: "`bpfmap help`, wall (median)", ours: ms(wall('bpfmap help')), baseline: `\`node -e ''\` ${ms(floor)}`, ratio: wall('bpfmap help') / floor, goal: '≤ 2x' },
    { name: 'one-key `lookup`, wall (median)', ours: ms(wall('bpfmap lookup')), baseline: `\`node -e ''\` ${ms(floor)}`, ratio: wall('bpfmap lookup') / floor, goal: '≤ 2x' },
    { name: 'one-key `-j lookup`, wall (median)', ours: ms(wall('bpfmap -j lookup')), baseline: `\`node -e ''\` ${ms(floor)}`, ratio: wall('bpfmap -j lookup') / floor, goal: '≤ 2x' },
    { name: 'one-key `lookup`, CPU (median)', ours: ms(cpu('bpfmap lookup')), baseline: `\`node -e ''\` ${ms(cpu("node -e ''"))}`, ratio: cpu('bpfmap lookup') / cpu("node -e ''"), goal: '(informative)' },
    { name: 'one-key `lookup` vs bpftool, wall', ours: ms(wall('bpfmap lookup')), baseline: `bpftool ${ms(wall('bpftool map lookup'))}`, ratio: wall('bpfmap lookup') / wall('bpftool map lookup'), goal: '(Node.js start-up floor)' },
  ];
  report(`CLI start-up, ${rounds} interleaved rounds`, rows, [(row) => row.ratio <= 2, (row) => row.ratio <= 2, (row) => row.ratio <= 2]);
} finally {
  rmSync(folder, { recursive: true, force: true });
}
