/**
 * CO-RE benchmark: relocating an object with many CO-RE relocations (generated: 40 programs, each
 * reading ~20 task_struct fields with BPF_CORE_READ, built against this kernel's vmlinux.h) against
 * the running kernel's BTF. Rows:
 * - the whole CO-RE pass with vmlinux BTF already parsed: the process's first relocator (which
 *   scans vmlinux's names for each local type and decodes the kernel types it touches) and a new
 *   relocator for the same object (scans cached per kernel BTF), against libbpf's CO-RE pass on
 *   the same object, timed from libbpf's own log lines (bench/c/libbpf_core_time.c; libbpf has
 *   parsed vmlinux by then);
 * - a cold process: read and parse vmlinux, index it, relocate (what a one-shot loader pays).
 * Run with `node dist/bench/core.js` (as root, with clang, bpftool and libbpf-dev).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf } from '../src/codec/btf/btf.js';
import { elfSection } from '../src/codec/btf/elf.js';
import { kernelBtf } from '../src/codec/btf/sources.js';
import { parseBtfExt } from '../src/objects/btf-ext.js';
import { CoreRelocator } from '../src/objects/core/relocator.js';
import { bestSeconds, buildC, report, runC } from './harness.js';

/** Relocates every section of the object once; returns the number of relocations. */
function relocateAll(object: Uint8Array, relocator?: CoreRelocator): number {
  const btf = relocator?.localBtf ?? Btf.parse(elfSection(object, '.BTF') as Uint8Array);
  const ext = parseBtfExt(elfSection(object, '.BTF.ext') as Uint8Array, btf);
  const core = relocator ?? new CoreRelocator(btf);
  let count = 0;
  for (const section of ext.sections.values()) {
    if (section.coreRelocations.length === 0) continue;
    const insns = (elfSection(object, section.name) as Uint8Array).slice();
    count += core.apply(insns, section.coreRelocations, { section: section.name }).length;
  }
  return count;
}

if (process.argv[2] === '--cold') {
  // Child process: everything from reading vmlinux on.
  const object = new Uint8Array(readFileSync(process.argv[3] as string));
  const start = performance.now();
  kernelBtf();
  const parsed = performance.now();
  const count = relocateAll(object);
  const done = performance.now();
  console.log(JSON.stringify({ totalMs: done - start, vmlinuxMs: parsed - start, count }));
  process.exit(0);
}

const FIELDS = [
  'pid', 'tgid', 'flags', 'prio', 'static_prio', 'normal_prio', 'rt_priority', 'real_parent, tgid', 'real_parent, pid',
  'group_leader, pid', 'group_leader, tgid', 'start_time', 'utime', 'stime', 'nvcsw', 'nivcsw', 'se.vruntime', 'se.sum_exec_runtime',
  'real_parent, real_parent, tgid', 'exit_code',
];
const PROGRAMS = 40;

function generateSource(): string {
  const lines = [
    '#include "vmlinux.h"', '#include <bpf/bpf_helpers.h>', '#include <bpf/bpf_core_read.h>',
    'struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64[32]); } bench_out SEC(".maps");',
  ];
  for (let p = 0; p < PROGRAMS; p++) {
    lines.push(`SEC("tp/syscalls/sys_enter_getppid") int core_bench_${p}(void *ctx) {`,
      '  __u32 zero = 0; __u64 *out = bpf_map_lookup_elem(&bench_out, &zero); if (!out) return 0;',
      '  struct task_struct *task = (void *)bpf_get_current_task();');
    FIELDS.forEach((field, i) => {
      const [head, ...rest] = field.split('.');
      lines.push(rest.length ? `  out[${i}] = BPF_CORE_READ(task, ${head}.${rest.join('.')});` : `  out[${i}] = BPF_CORE_READ(task, ${field});`);
    });
    lines.push('  return 0;', '}');
  }
  lines.push('char LICENSE[] SEC("license") = "GPL";');
  return lines.join('\n');
}

const dir = mkdtempSync(path.join(tmpdir(), 'bpfmap-core-bench-'));
try {
  writeFileSync(path.join(dir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
  writeFileSync(path.join(dir, 'core_bench.bpf.c'), generateSource());
  const objectPath = path.join(dir, 'core_bench.bpf.o');
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, `-I${dir}`, '-c', path.join(dir, 'core_bench.bpf.c'), '-o', objectPath]);
  const object = new Uint8Array(readFileSync(objectPath));

  const btf = Btf.parse(elfSection(object, '.BTF') as Uint8Array);
  kernelBtf();
  let count = 0;
  const firstStart = performance.now();
  count = relocateAll(object, new CoreRelocator(btf));
  const firstMs = performance.now() - firstStart;
  const warm = bestSeconds(7, () => relocateAll(object, new CoreRelocator(btf)));

  const libbpfTool = buildC('libbpf_core_time', ['-lbpf']);
  let libbpf = Infinity;
  let libbpfCount = 0;
  for (let i = 0; i < 5; i++) {
    const result = runC<{ seconds: number; relocations: number }>(libbpfTool, [objectPath]);
    libbpf = Math.min(libbpf, result.seconds);
    libbpfCount = result.relocations;
  }
  const colds: { totalMs: number; vmlinuxMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cold', objectPath], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    colds.push(JSON.parse(child.stdout) as { totalMs: number; vmlinuxMs: number });
  }
  const cold = colds.reduce((a, b) => (a.totalMs < b.totalMs ? a : b));
  console.log(`object: ${PROGRAMS} programs, ${count} CO-RE relocations (libbpf patched ${libbpfCount})`);
  const ms = (seconds: number): string => `${(seconds * 1e3).toFixed(1)} ms`;
  report('CO-RE relocation against the running kernel', [
    { name: `first relocator in the process (scans vmlinux names, decodes the types), ${count} relocations`, ours: `${firstMs.toFixed(1)} ms`, baseline: `libbpf CO-RE pass ${ms(libbpf)}`, ratio: firstMs / 1e3 / libbpf, goal: 'informational' },
    { name: 'a new relocator for the same object (kernel scans cached)', ours: ms(warm), baseline: `libbpf CO-RE pass ${ms(libbpf)}`, ratio: warm / libbpf, goal: '≤ 1x' },
    { name: 'cold process: parse vmlinux + relocate', ours: `${cold.totalMs.toFixed(1)} ms (vmlinux ${cold.vmlinuxMs.toFixed(1)} ms)`, baseline: `libbpf CO-RE pass ${ms(libbpf)} (vmlinux excluded)`, ratio: cold.totalMs / 1e3 / libbpf, goal: 'informational' },
  ], [() => undefined, (row) => row.ratio <= 1, () => undefined]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
