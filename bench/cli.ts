/**
 * `bpfmap -j dump` against `bpftool -j map dump` on the same 1M-entry hash map, in the same run,
 * with wall time and peak RSS of each (from /usr/bin/time -v, or procfs sampling without it).
 * Both write to a file, whose sizes are compared so that neither does less work.
 *
 * Run as root after a build: `node dist/bench/cli.js [entries]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfMap } from '../src/index.js';

const entries = Number(process.argv[2] ?? 1_000_000);
const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const hasGnuTime = existsSync('/usr/bin/time');

interface RunResult {
  readonly seconds: number;
  readonly peakRssKiB: number;
  readonly outputBytes: number;
}

/** Peak RSS by sampling /proc/PID/status (VmHWM) until the process exits. */
async function runSampled(command: string, args: string[], outputPath: string): Promise<RunResult> {
  const fd = openSync(outputPath, 'w');
  const start = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', fd, 'inherit'] });
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match) peak = Math.max(peak, Number(match[1]));
    } catch {
      // The process ended between samples.
    }
  }, 5);
  const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  closeSync(fd);
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${status}`);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, peakRssKiB: peak, outputBytes: statSync(outputPath).size };
}

/** Wall time and peak RSS from GNU time. */
function runTimed(command: string, args: string[], outputPath: string): RunResult {
  const fd = openSync(outputPath, 'w');
  const start = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-v', command, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(fd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  return { seconds, peakRssKiB: Number(rss?.[1] ?? 0), outputBytes: statSync(outputPath).size };
}

function run(command: string, args: string[], outputPath: string): Promise<RunResult> | RunResult {
  return hasGnuTime ? runTimed(command, args, outputPath) : runSampled(command, args, outputPath);
}

function fill(map: BpfMap): void {
  const chunk = 65536;
  for (let start = 0; start < entries; start += chunk) {
    const batch: Array<[Uint8Array, Uint8Array]> = [];
    for (let i = start; i < Math.min(start + chunk, entries); i++) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, i, true);
      const value = new Uint8Array(8);
      new DataView(value.buffer).setBigUint64(0, BigInt(i) * 1_000_003n, true);
      batch.push([key, value]);
    }
    map.setBatch(batch);
  }
}

const folder = mkdtempSync('/sys/fs/bpf/bpfmap-bench-cli-');
const outputs = mkdtempSync(path.join(tmpdir(), 'bpfmap-bench-cli-'));
try {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: entries, name: 'bench_cli' });
  fill(map);
  const pin = path.join(folder, 'map');
  map.pin(pin);
  console.log(`hash map, ${entries} entries, 4-byte keys, 8-byte values; peak RSS via ${hasGnuTime ? '/usr/bin/time -v' : '/proc/PID/status VmHWM sampling'}`);
  const bpftool = await run('bpftool', ['-j', 'map', 'dump', 'pinned', pin], path.join(outputs, 'bpftool.json'));
  const bpfmap = await run(process.execPath, [cliPath, '-j', 'dump', 'pinned', pin], path.join(outputs, 'bpfmap.json'));
  const row = (name: string, result: RunResult): string =>
    `${name.padEnd(24)} ${result.seconds.toFixed(3).padStart(8)} s  ${(result.peakRssKiB / 1024).toFixed(1).padStart(8)} MiB peak RSS  ${result.outputBytes} bytes`;
  console.log(row('bpftool -j map dump', bpftool));
  console.log(row('bpfmap -j dump', bpfmap));
  console.log(`speedup: ${(bpftool.seconds / bpfmap.seconds).toFixed(1)}x (goal >= 5x); output sizes ${bpftool.outputBytes === bpfmap.outputBytes ? 'equal' : 'DIFFER'}`);
} finally {
  rmSync(folder, { recursive: true, force: true });
  rmSync(outputs, { recursive: true, force: true });
}
