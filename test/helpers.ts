/**
 * Shared test helpers: per-test bpffs folders, skip reasons for missing privileges or tools,
 * and clang builds of the BPF fixtures under test/fixtures.
 *
 * Every test that pins makes its own folder with `pinDir(t)`, which removes it when the test ends,
 * pass or fail. Tests never touch maps they did not create.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/test). */
export const repoRoot = path.resolve(here, '../..');
/** Where the C sources of BPF test programs live. */
export const fixturesDir = path.join(repoRoot, 'test/fixtures');

const onCi = process.env.CI === 'true';

/** Why BPF tests cannot run here, or undefined when they can. */
export function bpfUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (or CAP_BPF + CAP_SYS_ADMIN) to use bpf(2)';
  if (!existsSync('/sys/fs/bpf')) return 'bpffs is not available at /sys/fs/bpf';
  return undefined;
}

/** Why a command-line tool is unusable, or undefined when it runs. */
export function toolUnavailable(tool: string): string | undefined {
  const result = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (result.error) return `${tool} is not installed (apt-get install ${tool === 'clang' ? 'clang llvm' : tool})`;
  return undefined;
}

/**
 * Options for `node:test` that skip with a clear reason when BPF (and the given tools) are
 * missing. On CI (CI=true) nothing may skip: the missing piece fails the test instead.
 */
export function needs(...tools: string[]): { skip?: string } {
  const reason = bpfUnavailable() ?? tools.map(toolUnavailable).find((r) => r !== undefined);
  if (reason === undefined) return {};
  if (onCi) throw new Error(`CI must run every test, but: ${reason}`);
  return { skip: reason };
}

/** A fresh, unique bpffs folder for one test, removed with everything in it when the test ends. */
export function pinDir(t: TestContext, label = 'test'): string {
  const base = '/sys/fs/bpf';
  const dir = path.join(base, `bpfmap-${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh temporary folder on disk, removed when the test ends. */
export function tempDir(t: TestContext, label = 'bpfmap'): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${label}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const builtObjects = new Map<string, string>();
const objectCache = mkdtempSync(path.join(tmpdir(), 'bpfmap-objs-'));
process.on('exit', () => rmSync(objectCache, { recursive: true, force: true }));

/** The -I flag for <asm/types.h> on Debian's multiarch layout. */
function multiarchInclude(): string[] {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const dir = `/usr/include/${triplet}`;
  return existsSync(dir) ? [`-I${dir}`] : [];
}

/**
 * Compiles `test/fixtures/NAME.bpf.c` with clang for the BPF target (with BTF) once per test
 * process and returns the object's path.
 */
export function buildBpfObject(name: string): string {
  const cached = builtObjects.get(name);
  if (cached) return cached;
  const source = path.join(fixturesDir, `${name}.bpf.c`);
  statSync(source);
  const output = path.join(objectCache, `${name}.bpf.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', ...multiarchInclude(), '-c', source, '-o', output], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  builtObjects.set(name, output);
  return output;
}

/**
 * Loads a BPF object with bpftool and pins its programs under `dir/progs` and its maps under
 * `dir/maps`. Returns both folders.
 */
export function loadBpfObject(objectPath: string, dir: string): { progs: string; maps: string } {
  const progs = path.join(dir, 'progs');
  const maps = path.join(dir, 'maps');
  mkdirSync(maps, { recursive: true });
  execFileSync('bpftool', ['prog', 'loadall', objectPath, progs, 'pinmaps', maps], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { progs, maps };
}

/** Runs bpftool with `-j` and parses its JSON. */
export function bpftoolJson<T = unknown>(...args: string[]): T {
  const out = execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return JSON.parse(out) as T;
}

/** Runs bpftool and returns its stdout. */
export function bpftool(...args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
}

/** How many fds this process has open (from /proc/self/fd). */
export async function countOpenFds(): Promise<number> {
  const { readdirSync } = await import('node:fs');
  return readdirSync('/proc/self/fd').length;
}

/** 4 little-endian bytes of `n`. */
export function u32le(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n >>> 0, true);
  return bytes;
}

/** 8 little-endian bytes of `n`. */
export function u64le(n: bigint | number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  return bytes;
}

/** Reads a little-endian u32 from the start of `bytes`. */
export function readU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}

/** Reads a little-endian u64 from the start of `bytes`. */
export function readU64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
}

/** bpftool's hex byte strings ("0x0a") for bytes. */
export function hexBytes(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, '0')}`);
}

/**
 * Waits (up to 10 s) until `bpftool link show` no longer lists link `id`, and says whether it went.
 * Removing a link's last pin releases the link after an RCU grace period, not inside unlink().
 */
export async function linkReleased(id: number): Promise<boolean> {
  const listed = (): boolean => bpftoolJson<Array<{ id: number }>>('link', 'show').some((link) => link.id === id);
  for (const deadline = Date.now() + 10_000; listed() && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 20));
  return !listed();
}
