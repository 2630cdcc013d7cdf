/**
 * `bpfmap -j dump` against `bpftool -j map dump` on the same hash map (200k entries by default, the
 * size where start-up weighs most), in interleaved rounds so that the other load on this machine
 * falls on both alike. Each round runs both commands once, writing to a file whose size is
 * compared so that neither does less work. Reports medians of wall time and of CPU time (user +
 * system, from /usr/bin/time), the ratio of the medians and the spread of the per-round ratios,
 * peak RSS, and the load average before and after.
 *
 * With `--callgrind`, also counts the user-space instructions of `bpfmap -j dump` and of
 * `node -e ''` (the start-up floor) under valgrind: counts barely move with the machine's load,
 * so they show a change in bpfmap's own work where wall times cannot. (bpftool's time is mostly
 * in the kernel, which callgrind does not see, so it has no count to compare with.)
 *
 * Each round also runs `node -e ''`, the start-up every Node.js program pays, and
 * bench/c/dump_floor.c, the kernel's batch copies of the same map in C with nothing formatted: their
 * sum is the floor of any Node.js dump that reads through bpf(2), and bpftool's time over it is the
 * best ratio such a dump could reach on this machine.
 *
 * NODE_EXTRA_CA_CERTS is removed from the commands' environment unless `--keep-env` is given:
 * Node.js 20 parses that whole certificate file before running any script (~45 ms of CPU for
 * the 144 certificates of a Debian bundle, measured with callgrind: 500M instructions against
 * 90M for `node -e ''` without it), so a machine that sets it, as some sandboxes and corporate
 * proxies do, charges every Node.js start for TLS that a dump never uses. bpftool ignores it.
 *
 * Run as root after a build: `node dist/bench/cli.js [entries] [--rounds N] [--callgrind] [--keep-env]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { BpfMap } from '../src/index.js';
import { buildC, cliBinPath, median, runC } from './harness.js';

const quick = process.argv.includes('--quick');
const roundsAt = process.argv.indexOf('--rounds');
// The first number that is not --rounds' value.
const entries = Number(process.argv.slice(2).find((word, i) => /^\d+$/.test(word) && i + 2 !== roundsAt + 1) ?? 200_000);
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : quick ? 3 : 9;
const cliPath = cliBinPath;
const hasGnuTime = existsSync('/usr/bin/time');
const keepEnv = process.argv.includes('--keep-env');
/** The commands' environment: this one, less NODE_EXTRA_CA_CERTS unless --keep-env (see above). */
const childEnv: NodeJS.ProcessEnv = keepEnv ? process.env : Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS'));

interface RunResult {
  readonly seconds: number;
  /** User + system CPU seconds (NaN without GNU time). */
  readonly cpuSeconds: number;
  readonly peakRssKiB: number;
  readonly outputBytes: number;
}

/** Runs a command with stdout to `outputPath`: wall time, and CPU time and peak RSS from GNU time. */
function run(argv: readonly string[], outputPath: string): RunResult {
  const fd = openSync(outputPath, 'w');
  const start = process.hrtime.bigint();
  const result = hasGnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', env: childEnv })
    : spawnSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', env: childEnv });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(fd);
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  const [user, system, rss] = hasGnuTime ? (result.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number) : [NaN, NaN, NaN];
  return { seconds, cpuSeconds: (user ?? NaN) + (system ?? NaN), peakRssKiB: rss ?? NaN, outputBytes: statSync(outputPath).size };
}

/** User-space instructions of a command under callgrind (stdout discarded), or undefined without valgrind. */
function instructions(argv: readonly string[]): number | undefined {
  const result = spawnSync('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', '--callgrind-out-file=/dev/null', ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26, env: childEnv,
  });
  const match = /Collected : (\d+)/.exec(result.stderr ?? '');
  return match ? Number(match[1]) : undefined;
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

const load = (): string => loadavg().map((value) => value.toFixed(2)).join(' ');
const folder = mkdtempSync('/sys/fs/bpf/bpfmap-bench-cli-');
const outputs = mkdtempSync(path.join(tmpdir(), 'bpfmap-bench-cli-'));
try {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: entries, name: 'bench_cli' });
  fill(map);
  const pin = path.join(folder, 'map');
  map.pin(pin);
  console.log(`hash map, ${entries} entries, 4-byte keys, 8-byte values; ${rounds} interleaved rounds; load average before: ${load()}`);
  const caCerts = process.env.NODE_EXTRA_CA_CERTS;
  if (caCerts !== undefined) console.log(keepEnv ? `NODE_EXTRA_CA_CERTS=${caCerts} kept (--keep-env): every Node.js start parses it` : `NODE_EXTRA_CA_CERTS removed from the commands' environment (--keep-env keeps it)`);
  const bpftoolArgv = ['bpftool', '-j', 'map', 'dump', 'pinned', pin];
  const bpfmapArgv = [process.execPath, cliPath, '-j', 'dump', 'pinned', pin];
  const bpftool: RunResult[] = [];
  const bpfmap: RunResult[] = [];
  const floor: RunResult[] = [];
  const kernelSeconds: number[] = [];
  // The entries per batch call `bpfmap dump` asks for with 4-byte keys and 8-byte values (dump.ts).
  const floorArgv = [pin, '16384', '4', '8'];
  const dumpFloor = buildC('dump_floor', ['-lbpf']);
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so that neither always follows the other's page-cache writes.
    if (round % 2 === 0) {
      bpftool.push(run(bpftoolArgv, path.join(outputs, 'bpftool.json')));
      bpfmap.push(run(bpfmapArgv, path.join(outputs, 'bpfmap.json')));
    } else {
      bpfmap.push(run(bpfmapArgv, path.join(outputs, 'bpfmap.json')));
      bpftool.push(run(bpftoolArgv, path.join(outputs, 'bpftool.json')));
    }
    floor.push(run([process.execPath, '-e', ''], path.join(outputs, 'floor.txt')));
    kernelSeconds.push(runC<{ seconds: number }>(dumpFloor, floorArgv).seconds);
  }
  const same = readFileSync(path.join(outputs, 'bpftool.json')).equals(readFileSync(path.join(outputs, 'bpfmap.json')));
  const row = (name: string, results: RunResult[]): string => {
    const wall = results.map((result) => result.seconds);
    return `${name.padEnd(22)} median ${median(wall).toFixed(3)} s (${Math.min(...wall).toFixed(3)}-${Math.max(...wall).toFixed(3)}), ` +
      `CPU ${median(results.map((result) => result.cpuSeconds)).toFixed(3)} s, ${(median(results.map((result) => result.peakRssKiB)) / 1024).toFixed(1)} MiB peak RSS, ${results[0]?.outputBytes} bytes`;
  };
  console.log(row('bpftool -j map dump', bpftool));
  console.log(row('bpfmap -j dump', bpfmap));
  console.log(row("node -e ''", floor));
  const above = (pick: (result: RunResult) => number): string => ((median(bpfmap.map(pick)) - median(floor.map(pick))) * 1000).toFixed(0);
  console.log(`bpfmap above node -e '': ${above((result) => result.seconds)} ms wall, ${above((result) => result.cpuSeconds)} ms CPU (medians)`);
  const floorSeconds = median(floor.map((result) => result.seconds)) + median(kernelSeconds);
  console.log(`floor: node -e '' + the kernel's batch copies in C (${(median(kernelSeconds) * 1000).toFixed(0)} ms) = ${(floorSeconds * 1000).toFixed(0)} ms, ` +
    `so no Node.js dump could beat bpftool by more than ${(median(bpftool.map((result) => result.seconds)) / floorSeconds).toFixed(1)}x here; bpfmap is ${((median(bpfmap.map((result) => result.seconds)) - floorSeconds) * 1000).toFixed(0)} ms above it`);
  const ratios = bpftool.map((result, i) => result.seconds / (bpfmap[i] as RunResult).seconds).sort((a, b) => a - b);
  const wallRatio = median(bpftool.map((result) => result.seconds)) / median(bpfmap.map((result) => result.seconds));
  const cpuRatio = median(bpftool.map((result) => result.cpuSeconds)) / median(bpfmap.map((result) => result.cpuSeconds));
  console.log(`speedup (medians of wall time): ${wallRatio.toFixed(1)}x (goal >= 5x ${wallRatio >= 5 ? '✓' : '✗'}); per-round ratios ${(ratios[0] ?? NaN).toFixed(1)}-${(ratios[ratios.length - 1] ?? NaN).toFixed(1)}x; CPU time ${cpuRatio.toFixed(1)}x`);
  console.log(`output: ${same ? 'byte for byte the same' : 'DIFFERENT'}; load average after: ${load()}`);
  if (process.argv.includes('--callgrind')) {
    const floor = instructions([process.execPath, '-e', '']);
    const dump = instructions(bpfmapArgv);
    if (floor === undefined || dump === undefined) console.log('callgrind: valgrind not available');
    else console.log(`callgrind, user-space instructions: node -e '' ${(floor / 1e6).toFixed(0)}M; bpfmap -j dump ${(dump / 1e6).toFixed(0)}M (${((dump - floor) / 1e6).toFixed(0)}M above the floor, ${((dump - floor) / entries).toFixed(0)} per entry)`);
  }
  if (!same) process.exitCode = 1;
} finally {
  rmSync(folder, { recursive: true, force: true });
  rmSync(outputs, { recursive: true, force: true });
}
