/**
 * Builds for the CO-RE tests: a vmlinux.h generated from the running kernel (bpftool), BPF
 * fixtures compiled against it, and a small host program linked with the system libbpf that loads
 * an object (libbpf applies CO-RE itself) and prints each program's final instructions, which the
 * tests compare with bpfmap's relocations instruction for instruction.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixturesDir } from '../helpers.js';

const buildDir = mkdtempSync(path.join(tmpdir(), 'bpfmap-core-'));
process.on('exit', () => rmSync(buildDir, { recursive: true, force: true }));
let header: string | undefined;
let libbpfLoader: string | undefined;
const objects = new Map<string, string>();

function targetArch(): string {
  return process.arch === 'arm64' ? 'arm64' : 'x86';
}

/** Compiles `test/fixtures/NAME.bpf.c` against a vmlinux.h of the running kernel; returns the object path. */
export function buildCoreObject(name: string): string {
  const cached = objects.get(name);
  if (cached) return cached;
  if (!header) {
    writeFileSync(path.join(buildDir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));
    header = buildDir;
  }
  const output = path.join(buildDir, `${name}.bpf.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${targetArch()}`, `-I${header}`, '-c', path.join(fixturesDir, `${name}.bpf.c`), '-o', output], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  objects.set(name, output);
  return output;
}

/**
 * Loads an object with libbpf (CO-RE applied against the running kernel) and returns each
 * program's final instructions by program name. The programs are unloaded when the helper exits.
 * With `allowRefused`, a load the kernel refuses still returns libbpf's relocated instructions.
 */
export function libbpfInstructions(objectPath: string, allowRefused = false): Map<string, Uint8Array> {
  if (!libbpfLoader) {
    libbpfLoader = path.join(buildDir, 'libbpf_insns');
    execFileSync('gcc', ['-O2', '-o', libbpfLoader, path.join(fixturesDir, 'libbpf_insns.c'), '-lbpf'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  let out: string;
  try {
    out = execFileSync(libbpfLoader, [objectPath], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // Status 3: libbpf relocated the object but the kernel refused a program; the relocated
    // instructions are still printed (e.g. a typed ksym on a kernel without CONFIG_KALLSYMS_ALL).
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    if (failed.status !== 3 || !allowRefused) throw new Error(`libbpf could not load ${objectPath}: ${failed.stderr ?? ''}`, { cause: error });
    out = failed.stdout ?? '';
  }
  const programs = new Map<string, Uint8Array>();
  for (const line of out.trim().split('\n')) {
    const [name, hex] = line.split(' ');
    if (name && hex !== undefined) programs.set(name, new Uint8Array(Buffer.from(hex, 'hex')));
  }
  return programs;
}

/** A copy of the object file with a patch applied to its bytes, written beside the original. */
export function patchedObject(objectPath: string, label: string, patch: (bytes: Uint8Array) => void): string {
  const bytes = new Uint8Array(readFileSync(objectPath));
  patch(bytes);
  const output = path.join(buildDir, `${path.basename(objectPath, '.bpf.o')}.${label}.bpf.o`);
  writeFileSync(output, bytes);
  return output;
}
