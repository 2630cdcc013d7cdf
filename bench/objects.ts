/**
 * Object loading benchmark: open and load an object with many programs, CO-RE relocations,
 * global data and subprograms (generated: 40 raw tracepoint programs, each reading task_struct
 * fields with BPF_CORE_READ, calling a shared .text subprogram and writing .bss/.data; built
 * against this kernel's vmlinux.h), against `bpftool prog loadall` on the same object.
 *
 * Every round runs, in turn: `bpftool prog loadall OBJ DIR`, `bpfmap load OBJ DIR` (a cold CLI:
 * Node.js start-up, module loading, vmlinux BTF read and parsed, open, load, pins), `node -e ''`
 * (the floor any Node.js program pays), a fresh Node.js process that imports the library and
 * opens and loads the object once (the library's cold path, timed in phases inside the process,
 * with the kernel's share — BTF_LOAD and BPF_PROG_LOAD, which bpftool pays too — measured around
 * the addon's calls), and `bpfmap -j prog show` against `bpftool -j prog show`. Rounds are
 * interleaved so that the other helpers' load on this 2-CPU machine falls on every command alike;
 * the table shows medians, of wall time and of CPU time (user + system, which a busy machine
 * disturbs less), and `uptime`'s load before and after. Then, in this
 * process with vmlinux parsed, repeated loads (a long-running loader's cost per object), and the
 * JS heap one loaded object keeps.
 *
 * Run as root after a build, with clang and bpftool: `node --expose-gc dist/bench/objects.js
 * [--quick] [rounds]`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliBinPath, report, repoRoot } from './harness.js';

const quick = process.argv.includes('--quick');
const PROGRAMS = quick ? 10 : 40;
const ROUNDS = Number(process.argv.find((word) => /^\d+$/.test(word)) ?? (quick ? 3 : 9));
const here = path.dirname(fileURLToPath(import.meta.url));
const hasGnuTime = existsSync('/usr/bin/time');

/** What the child process (`--child OBJECT`) reports: phase times in ms, kernel time in ms, peak RSS in MiB. */
interface ChildReport {
  readonly import: number;
  readonly open: number;
  readonly load: number;
  readonly kernel: number;
  readonly total: number;
  readonly maxRssMiB: number;
}

/**
 * The library's cold path in a fresh process: import, open, load, close, with the time spent
 * inside BTF_LOAD and BPF_PROG_LOAD added up around the addon's calls.
 */
async function child(objectPath: string): Promise<void> {
  const start = performance.now();
  const { native } = await import('../src/sys/native.js');
  const { BpfObject } = await import('../src/objects/object.js');
  const imported = performance.now();
  let kernel = 0;
  const timed = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
    const begin = performance.now();
    try {
      return fn(...args);
    } finally {
      kernel += performance.now() - begin;
    }
  };
  const addon = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['progLoad', 'btfLoad']) addon[name] = timed((addon[name] as (...args: unknown[]) => unknown).bind(native));
  const spec = BpfObject.open(objectPath);
  const opened = performance.now();
  const object = spec.load();
  const loaded = performance.now();
  object.close();
  const report: ChildReport = {
    import: imported - start,
    open: opened - imported,
    load: loaded - opened,
    kernel,
    total: loaded - start,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(report));
}

function generateSource(): string {
  const lines = [
    '#include "vmlinux.h"', '#include <bpf/bpf_helpers.h>', '#include <bpf/bpf_core_read.h>',
    'struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");',
    'const volatile __u32 target_tgid = 0;', '__u64 hits[64];', '__u64 total = 1;',
    'static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b) { return a * 31 + b; }',
  ];
  for (let i = 0; i < PROGRAMS; i++) {
    lines.push(
      `SEC("raw_tp/sys_enter") int prog_${i}(void *ctx) {`,
      '  struct task_struct *task = (struct task_struct *)bpf_get_current_task();',
      '  __u32 tgid = BPF_CORE_READ(task, tgid);',
      '  if (target_tgid && tgid != target_tgid) return 0;',
      `  __u64 v = mix(BPF_CORE_READ(task, pid), BPF_CORE_READ(task, real_parent, tgid)) + BPF_CORE_READ(task, prio) + ${i};`,
      '  v = mix(v, BPF_CORE_READ(task, se.vruntime));',
      '  bpf_map_update_elem(&seen, &tgid, &v, BPF_ANY);',
      `  hits[${i % 64}] += 1; total += v;`,
      '  return 0;', '}',
    );
  }
  lines.push('char LICENSE[] SEC("license") = "GPL";');
  return lines.join('\n');
}

interface Sample {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMiB: number;
  readonly stdout: string;
}

/** Runs one command: wall ms, CPU ms (user + system) and peak RSS when GNU time is there. */
function runOnce(argv: readonly string[]): Sample {
  const start = process.hrtime.bigint();
  const result = hasGnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 })
    : spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  const [user, system, rssKiB] = hasGnuTime ? (result.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number) : [NaN, NaN, NaN];
  return { wall, cpu: ((user ?? NaN) + (system ?? NaN)) * 1e3, rssMiB: (rssKiB ?? NaN) / 1024, stdout: result.stdout };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const ms = (value: number): string => `${value.toFixed(0)} ms`;
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'bpfmap-objects-bench-'));
  const pins = `/sys/fs/bpf/bpfmap-objects-bench-${process.pid}`;
  try {
    writeFileSync(path.join(work, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
    writeFileSync(path.join(work, 'objects_bench.bpf.c'), generateSource());
    const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
    const objectPath = path.join(work, 'objects_bench.bpf.o');
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, `-I${work}`, '-c', path.join(work, 'objects_bench.bpf.c'), '-o', objectPath]);
    mkdirSync(pins);
    const { BpfObject } = await import('../src/objects/object.js');
    const { kernelBtf } = await import('../src/codec/btf/sources.js');
    const spec = BpfObject.open(objectPath);
    const relocations = [...(spec.btfExt?.sections.values() ?? [])].reduce((n, s) => n + s.coreRelocations.length, 0);

    const node = process.execPath;
    const cli = cliBinPath;
    let run = 0;
    const pinned = (argv: (dir: string) => readonly string[]) => (): Sample => {
      const dir = path.join(pins, `run-${run++}`);
      try {
        return runOnce(argv(dir));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const commands = {
      bpftool: pinned((dir) => ['bpftool', 'prog', 'loadall', objectPath, dir]),
      cli: pinned((dir) => [node, cli, 'load', objectPath, dir]),
      node: () => runOnce([node, '-e', '']),
      library: () => runOnce([node, path.join(here, 'objects.js'), '--child', objectPath]),
      // Listing what is loaded, cold: every program on the machine (other users' included), as JSON.
      progShow: () => runOnce([node, cli, '-j', 'prog', 'show']),
      bpftoolProgShow: () => runOnce(['bpftool', '-j', 'prog', 'show']),
    };
    const samples = new Map<keyof typeof commands, Sample[]>(Object.keys(commands).map((name) => [name as keyof typeof commands, []]));
    // One warm-up round fills the page cache; then every round runs each command once.
    for (const command of Object.values(commands)) command();
    const loadBefore = loadAverage();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, command] of Object.entries(commands)) samples.get(name as keyof typeof commands)?.push(command());
    }
    const loadAfter = loadAverage();
    const of = (name: keyof typeof commands, field: 'wall' | 'cpu' | 'rssMiB'): number => median((samples.get(name) ?? []).map((s) => s[field]));
    const children = (samples.get('library') ?? []).map((s) => JSON.parse(s.stdout.trim().split('\n').pop() ?? '{}') as ChildReport);
    const phase = (field: keyof ChildReport): number => median(children.map((c) => c[field]));

    // In this process, vmlinux parsed once: a long-running loader's cost per object.
    kernelBtf();
    const warm: number[] = [];
    const collect = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < ROUNDS; i++) {
      collect?.();
      const begin = performance.now();
      BpfObject.load(objectPath).close();
      warm.push(performance.now() - begin);
    }
    collect?.();
    // The heap and the ArrayBuffers (the object file's bytes, section copies) one object keeps.
    const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const heapBefore = used();
    const held = BpfObject.load(objectPath);
    collect?.();
    const heapHeld = (used() - heapBefore) / 2 ** 20;
    held.close();

    const programsShown = (JSON.parse((samples.get('progShow') ?? []).at(-1)?.stdout ?? '[]') as unknown[]).length;
    const bpftoolWall = of('bpftool', 'wall');
    const bpftoolCpu = of('bpftool', 'cpu');
    const warmMedian = median(warm);
    report(`Loading an object (${PROGRAMS} programs, ${relocations} CO-RE relocations; medians of ${ROUNDS} interleaved rounds, load average ${loadBefore} before, ${loadAfter} after)`, [
      { name: 'bpfmap load vs bpftool prog loadall (whole process, wall)', ours: ms(of('cli', 'wall')), baseline: ms(bpftoolWall), ratio: of('cli', 'wall') / bpftoolWall, goal: 'not slower than bpftool' },
      { name: 'the same, CPU time (user + system)', ours: ms(of('cli', 'cpu')), baseline: ms(bpftoolCpu), ratio: of('cli', 'cpu') / bpftoolCpu, goal: 'informational' },
      { name: "node -e '' (the floor of any Node.js CLI), wall (CPU)", ours: `${ms(of('node', 'wall'))} (${ms(of('node', 'cpu'))})`, baseline: ms(bpftoolWall), ratio: of('node', 'wall') / bpftoolWall, goal: 'informational' },
      { name: 'peak RSS of bpfmap load', ours: `${of('cli', 'rssMiB').toFixed(0)} MiB`, baseline: `${of('bpftool', 'rssMiB').toFixed(0)} MiB`, ratio: of('cli', 'rssMiB') / of('bpftool', 'rssMiB'), goal: 'informational' },
      { name: 'library, fresh process: import + open + load', ours: ms(phase('total')), baseline: ms(bpftoolWall), ratio: phase('total') / bpftoolWall, goal: 'informational' },
      { name: '… of which open (ELF, BTF, .BTF.ext)', ours: ms(phase('open')), baseline: '—', ratio: phase('open') / bpftoolWall, goal: 'informational' },
      { name: '… of which load (vmlinux BTF, CO-RE, maps, programs)', ours: ms(phase('load')), baseline: '—', ratio: phase('load') / bpftoolWall, goal: 'informational' },
      { name: '… of which in the kernel (BTF_LOAD + BPF_PROG_LOAD: verifier)', ours: ms(phase('kernel')), baseline: '—', ratio: phase('kernel') / bpftoolWall, goal: 'informational' },
      { name: 'peak RSS of that process', ours: `${phase('maxRssMiB').toFixed(0)} MiB`, baseline: `${of('bpftool', 'rssMiB').toFixed(0)} MiB`, ratio: phase('maxRssMiB') / of('bpftool', 'rssMiB'), goal: 'informational' },
      { name: 'in-process open + load, vmlinux parsed before', ours: ms(warmMedian), baseline: ms(bpftoolWall), ratio: warmMedian / bpftoolWall, goal: 'not slower than bpftool' },
      { name: 'JS heap and buffers held by one loaded object', ours: `${heapHeld.toFixed(1)} MiB`, baseline: '—', ratio: 0, goal: 'informational' },
      { name: `bpfmap -j prog show vs bpftool -j prog show (cold, ${programsShown} programs), wall (CPU)`, ours: `${ms(of('progShow', 'wall'))} (${ms(of('progShow', 'cpu'))})`, baseline: `${ms(of('bpftoolProgShow', 'wall'))} (${ms(of('bpftoolProgShow', 'cpu'))})`, ratio: of('progShow', 'wall') / of('bpftoolProgShow', 'wall'), goal: 'informational' },
    ], [(row) => row.ratio <= 1, ...Array<() => undefined>(8).fill(() => undefined), (row) => row.ratio <= 1, () => undefined, () => undefined]);
  } finally {
    rmSync(pins, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(process.argv[childAt + 1] as string);
else await main();
