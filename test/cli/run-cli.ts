/** Runs the built `bpfmap` CLI as a subprocess for tests. */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers.js';

/** The `bpfmap` executable as the package ships it (package.json's `bin`: the launcher of the bundled CLI). */
export const cliPath = path.join(repoRoot, (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: { bpfmap: string } }).bin.bpfmap);

/** What one CLI run printed and returned. */
export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bpfmap ARGS...` and waits for it. */
export function runCli(...args: string[]): CliResult {
  const result = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI with `-j`, expects success, and parses stdout. */
export function cliJson<T = unknown>(...args: string[]): T {
  const result = runCli('-j', ...args);
  if (result.status !== 0) throw new Error(`bpfmap -j ${args.join(' ')} exited ${result.status}: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Builds test/cli/fixtures/cli_maps.bpf.c (maps with BTF) with clang into `outDir`; returns the object. */
export function buildCliFixture(outDir: string): string {
  const source = path.join(repoRoot, 'test/cli/fixtures/cli_maps.bpf.c');
  const output = path.join(outDir, 'cli_maps.bpf.o');
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const include = existsSync(`/usr/include/${triplet}`) ? [`-I/usr/include/${triplet}`] : [];
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', ...include, '-c', source, '-o', output], { stdio: 'pipe' });
  return output;
}

/** A CLI run in the background: its process, and what it printed once it exits. */
export interface BackgroundCli {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves when the process exits. */
  readonly exited: Promise<CliResult & { signal: NodeJS.Signals | null }>;
  /**
   * Resolves once stdout satisfies `done` (polled), so a test signals or changes a map only after
   * the command has really started: on a busy machine Node's start-up alone can take seconds.
   */
  waitForStdout(done: (stdout: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
}

/** Starts `bpfmap ARGS...` without waiting for it (for commands that wait for events). */
export function startCli(...args: string[]): BackgroundCli {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  let exitedYet = false;
  void exited.then(() => (exitedYet = true), () => (exitedYet = true));
  const waitForStdout = async (done: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!done(stdout)) {
      if (exitedYet) throw new Error(`bpfmap ${args.join(' ')} exited before ${what}: ${stdout}${stderr}`);
      if (Date.now() > deadline) throw new Error(`bpfmap ${args.join(' ')}: no ${what} after ${timeoutMs} ms: ${stdout}${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return stdout;
  };
  return { child, stdout: () => stdout, exited, waitForStdout };
}
