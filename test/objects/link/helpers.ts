/**
 * Helpers of the attach tests: fixtures loaded with bpftool into the test's own bpffs folder,
 * the small C process the tests observe (test/fixtures/attach_child.c), tracefs, and a check
 * that no link of a program is left.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { BpfMap } from '../../../src/map/bpf-map.js';
import { BpfProgram } from '../../../src/objects/program.js';
import { tracefsRoot } from '../../../src/objects/link/tracefs.js';
import { bpftoolJson, buildBpfObject, fixturesDir, loadBpfObject, pinDir } from '../../helpers.js';

/** A fixture object loaded by bpftool: its programs and maps by name, closed when the test ends. */
export interface LoadedFixture {
  readonly dir: string;
  program(name: string): BpfProgram;
  map(name: string): BpfMap;
}

/** Builds test/fixtures/NAME.bpf.c and loads it with `bpftool prog loadall` into the test's bpffs folder. */
export function loadFixture(t: TestContext, name: string): LoadedFixture {
  const dir = pinDir(t, 'attach');
  const { progs, maps } = loadBpfObject(buildBpfObject(name), dir);
  return {
    dir,
    program(program: string): BpfProgram {
      const opened = BpfProgram.fromPinned(path.join(progs, program));
      t.after(() => opened.close());
      return opened;
    },
    map(map: string): BpfMap {
      const opened = BpfMap.openPinned(path.join(maps, map));
      t.after(() => opened.close());
      return opened;
    },
  };
}

let childBinary: string | undefined;

/** The attach_child binary, built with cc once per test process. */
export function childProgram(): string {
  if (childBinary) return childBinary;
  const dir = mkdtempSync(path.join(tmpdir(), 'bpfmap-attach-child-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const output = path.join(dir, 'attach_child');
  execFileSync('cc', ['-O1', '-g', '-o', output, path.join(fixturesDir, 'attach_child.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
  childBinary = output;
  return output;
}

/** A running attach_child: its pid, and `run(command)` which resolves once it answers "done". */
export interface Child {
  readonly pid: number;
  run(command: string): Promise<void>;
}

/** Starts attach_child (inside network namespace `netns` when given); killed when the test ends. */
export async function startChild(t: TestContext, options: { netns?: string } = {}): Promise<Child> {
  const binary = childProgram();
  const proc: ChildProcessWithoutNullStreams = options.netns
    ? spawn('ip', ['netns', 'exec', options.netns, binary])
    : spawn(binary);
  t.after(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: proc.stdout });
  const pending: Array<(line: string) => void> = [];
  const buffered: string[] = [];
  lines.on('line', (line) => {
    const waiter = pending.shift();
    if (waiter) waiter(line);
    else buffered.push(line);
  });
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = buffered.shift();
      if (line !== undefined) return resolve(line);
      // Generous: the machine may be shared and slow; a hung child still fails the test.
      const timer = setTimeout(() => reject(new Error(`attach_child did not answer (stderr: ${stderr})`)), 60_000);
      pending.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  const ready = await nextLine();
  const match = /^ready (\d+)$/.exec(ready);
  if (!match) throw new Error(`attach_child said ${JSON.stringify(ready)} (stderr: ${stderr})`);
  return {
    pid: Number(match[1]),
    async run(command: string): Promise<void> {
      proc.stdin.write(`${command}\n`);
      const answer = await nextLine();
      if (answer !== 'done') throw new Error(`attach_child answered ${JSON.stringify(answer)} to ${command} (stderr: ${stderr})`);
    },
  };
}

/** The links bpftool sees for a program id. */
export function linksOfProgram(programId: number): Array<{ id: number; type: string; prog_id: number }> {
  return bpftoolJson<Array<{ id: number; type: string; prog_id: number }>>('link', 'show').filter((link) => link.prog_id === programId);
}

/**
 * A tracefs root: the mounted one, or a private mount in a temporary folder (removed when the
 * test ends) when none is mounted, so tracepoint tests never depend on the machine's mounts.
 */
export function ensureTracefs(t: TestContext): string {
  const mounted = tracefsRoot();
  if (mounted) return mounted;
  const dir = mkdtempSync(path.join(tmpdir(), 'bpfmap-tracefs-'));
  execFileSync('mount', ['-t', 'tracefs', 'nodev', dir]);
  t.after(() => {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  });
  return dir;
}

/** A u64 counter of an array map. */
export function counter(map: BpfMap, index: number): bigint {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, index, true);
  const value = map.get(key);
  if (!value) throw new Error(`no element ${index}`);
  return new DataView(value.buffer, value.byteOffset).getBigUint64(0, true);
}

/** Sets element 0 of a u32 array map. */
export function setU32(map: BpfMap, value: number): void {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  map.set(new Uint8Array(4), bytes);
}

/**
 * Reads counter `index` until it equals `expected` or a second has passed (packets reach a veth
 * peer through a softirq, possibly after the sender's call returned), and returns the last value.
 */
export async function settledCounter(map: BpfMap, index: number, expected: bigint): Promise<bigint> {
  const deadline = Date.now() + 1000;
  let value = counter(map, index);
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = counter(map, index);
  }
  return value;
}

export interface VethPair {
  readonly netns: string;
  /** The end in the test's namespace, where XDP runs. */
  readonly outer: string;
  /** Address the datagrams go to (reached through a static neighbour entry). */
  readonly target: string;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A veth pair with one end in a fresh namespace `bpfmap-<label>-<pid>-...`; both removed when the test ends. */
export function vethPair(t: TestContext, label = 'attach'): VethPair {
  const tag = `${process.pid % 100000}${Math.random().toString(36).slice(2, 5)}`;
  const netns = `bpfmap-${label}-${process.pid}-${tag}`;
  const outer = `bax${tag}`.slice(0, 15);
  const inner = `bay${tag}`.slice(0, 15);
  const subnet = 64 + (process.pid % 128);
  const host = 4 * (Math.floor(Math.random() * 60) + 1);
  const target = `10.231.${subnet}.${host + 1}`;
  ip('netns', 'add', netns);
  t.after(() => ip('netns', 'delete', netns));
  ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
  t.after(() => {
    try {
      ip('link', 'delete', outer);
    } catch {
      // gone with the namespace already
    }
  });
  ip('link', 'set', inner, 'netns', netns);
  ip('link', 'set', outer, 'up');
  const mac = readFileSync(`/sys/class/net/${outer}/address`, 'utf8').trim();
  ip('-n', netns, 'addr', 'add', `10.231.${subnet}.${host + 2}/30`, 'dev', inner);
  ip('-n', netns, 'link', 'set', inner, 'up');
  ip('-n', netns, 'neigh', 'add', target, 'lladdr', mac, 'dev', inner, 'nud', 'permanent');
  return { netns, outer, target };
}

