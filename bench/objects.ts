/**
 * Object loading benchmark: open and load an object with many programs, CO-RE relocations,
 * global data and subprograms (generated: 40 raw tracepoint programs, each reading task_struct
 * fields with BPF_CORE_READ, calling a shared .text subprogram and writing .bss/.data; built
 * against this kernel's vmlinux.h), against `bpftool prog loadall` on the same object. Rows:
 * - `bpfmap load OBJ DIR` vs `bpftool prog loadall OBJ DIR`: whole processes, wall time (best of
 *   N) and peak RSS (Node's own startup included: that is what a user pays for the CLI);
 * - in-process `BpfObject.open` + `load()` with vmlinux BTF already parsed (a long-running
 *   loader's cost per object), and the heap it keeps while loaded.
 * Run with `node --expose-gc dist/bench/objects.js` as root, with clang and bpftool.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BpfObject } from '../src/objects/object.js';
import { kernelBtf } from '../src/codec/btf/sources.js';
import { bestSeconds, report, repoRoot, timeCommand } from './harness.js';

const quick = process.argv.includes('--quick');
const PROGRAMS = quick ? 10 : 40;
const REPEAT = quick ? 2 : 5;

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

const work = mkdtempSync(path.join(tmpdir(), 'bpfmap-objects-bench-'));
const pins = `/sys/fs/bpf/bpfmap-objects-bench-${process.pid}`;
try {
  writeFileSync(path.join(work, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
  writeFileSync(path.join(work, 'objects_bench.bpf.c'), generateSource());
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  const objectPath = path.join(work, 'objects_bench.bpf.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, `-I${work}`, '-c', path.join(work, 'objects_bench.bpf.c'), '-o', objectPath]);
  mkdirSync(pins);
  const spec = BpfObject.open(objectPath);
  const relocations = [...(spec.btfExt?.sections.values() ?? [])].reduce((n, s) => n + s.coreRelocations.length, 0);

  const cli = path.join(repoRoot, 'dist/src/cli/main.js');
  const timeLoad = (command: string, args: (dir: string) => string[]): { seconds: number; rss: number } => {
    let best = Infinity;
    let rss = 0;
    for (let i = 0; i < REPEAT; i++) {
      const dir = path.join(pins, `${path.basename(command)}-${i}`);
      const run = timeCommand(command, args(dir));
      best = Math.min(best, run.seconds);
      rss = Math.max(rss, run.peakRssMiB ?? 0);
      rmSync(dir, { recursive: true, force: true });
    }
    return { seconds: best, rss };
  };
  const bpftool = timeLoad('bpftool', (dir) => ['prog', 'loadall', objectPath, dir]);
  const ours = timeLoad(process.execPath, (dir) => [cli, 'load', objectPath, dir]);

  kernelBtf();
  const inProcess = bestSeconds(REPEAT, () => {
    BpfObject.load(objectPath).close();
  });
  (globalThis as { gc?: () => void }).gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const held = BpfObject.load(objectPath);
  (globalThis as { gc?: () => void }).gc?.();
  const heapHeld = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  held.close();

  const what = `${PROGRAMS} programs, ${relocations} CO-RE relocations`;
  report(`Loading an object (${what})`, [
    { name: 'bpfmap load vs bpftool prog loadall (whole process, wall)', ours: `${(ours.seconds * 1e3).toFixed(0)} ms`, baseline: `${(bpftool.seconds * 1e3).toFixed(0)} ms`, ratio: ours.seconds / bpftool.seconds, goal: 'not slower than bpftool' },
    { name: 'peak RSS of that process', ours: `${ours.rss.toFixed(0)} MiB`, baseline: `${bpftool.rss.toFixed(0)} MiB`, ratio: ours.rss / bpftool.rss, goal: 'informational' },
    { name: 'in-process open + load (vmlinux parsed once before)', ours: `${(inProcess * 1e3).toFixed(0)} ms`, baseline: `bpftool ${(bpftool.seconds * 1e3).toFixed(0)} ms`, ratio: inProcess / bpftool.seconds, goal: 'not slower than bpftool' },
    { name: 'JS heap held by one loaded object', ours: `${heapHeld.toFixed(1)} MiB`, baseline: '—', ratio: 0, goal: 'informational' },
  ], [(row) => row.ratio <= 1, () => undefined, (row) => row.ratio <= 1, () => undefined]);
} finally {
  rmSync(pins, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
