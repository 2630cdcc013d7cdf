/** Shared pieces of the benchmarks: timing, C baselines built on the spot, result tables. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (benchmarks run from dist/bench). */
export const repoRoot = path.resolve(here, '../..');

/** The `bpfmap` executable as the package ships it (package.json's `bin`), which users run. */
export const cliBinPath = path.join(repoRoot, (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: { bpfmap: string } }).bin.bpfmap);
const buildDir = mkdtempSync(path.join(tmpdir(), 'bpfmap-bench-'));

/** Compiles bench/c/NAME.c with the given libraries; returns the binary's path. */
export function buildC(name: string, libs: string[] = []): string {
  const source = path.join(repoRoot, 'bench/c', `${name}.c`);
  const output = path.join(buildDir, name);
  execFileSync('cc', ['-O2', '-o', output, source, ...libs], { stdio: 'inherit' });
  return output;
}

/** Runs a C baseline that prints one JSON line. */
export function runC<T>(binary: string, args: string[]): T {
  return JSON.parse(execFileSync(binary, args, { encoding: 'utf8' })) as T;
}

/** Seconds taken by `fn`, best of `repeat` runs (the least disturbed by the other core's load). */
export function bestSeconds(repeat: number, fn: () => void): number {
  let best = Infinity;
  const collect = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < repeat; i++) {
    // Start each run with the garbage of earlier ones collected (run.ts passes --expose-gc), so
    // that a run is not charged for its predecessor's allocations.
    collect?.();
    const start = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return best;
}

/** Wall and CPU seconds (user + system, the whole process) of one run of `fn`, garbage collected first. */
export function timeRun(fn: () => void): { seconds: number; cpuSeconds: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Wall time and peak RSS of a command, via /usr/bin/time when present. */
export function timeCommand(command: string, args: string[]): { seconds: number; peakRssMiB: number | undefined } {
  const hasTime = existsSync('/usr/bin/time');
  const start = process.hrtime.bigint();
  const result = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })
    : spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const rssKiB = hasTime ? Number(result.stderr.trim().split('\n').pop()) : NaN;
  return { seconds, peakRssMiB: Number.isFinite(rssKiB) ? rssKiB / 1024 : undefined };
}

/** One row of a benchmark table. */
export interface BenchRow {
  readonly name: string;
  readonly ours: string;
  readonly baseline: string;
  readonly ratio: number;
  readonly goal: string;
}

/** Prints a table of rows and returns whether every goal was met. */
export function report(title: string, rows: BenchRow[], goals: Array<(row: BenchRow) => boolean | undefined>): void {
  console.log(`\n## ${title}\n`);
  console.log('| measurement | bpfmap | baseline | ratio | goal |');
  console.log('|---|---|---|---|---|');
  rows.forEach((row, i) => {
    const met = goals[i]?.(row);
    console.log(`| ${row.name} | ${row.ours} | ${row.baseline} | ${row.ratio.toFixed(2)}x | ${row.goal}${met === undefined ? '' : met ? ' ✓' : ' ✗'} |`);
  });
}

/** Formats a rate. */
export function rate(ops: number, seconds: number, unit = 'ops/s'): string {
  const perSecond = ops / seconds;
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)}M ${unit}` : `${(perSecond / 1e3).toFixed(1)}k ${unit}`;
}

/** The median of some numbers (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** `min-max` of some ratios, for how far rounds disagree. */
export function spread(values: readonly number[], digits = 2): string {
  return `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
}
