/**
 * Running real BPF tools (Debian's libbpf-tools, bpftrace) as children of a test, and finding
 * the maps that belong to them.
 *
 * Each tool runs in a mount namespace of its own with tracefs mounted there, because libbpf
 * attaches tracepoints through tracefs ids and a host may not have it mounted; nothing outside
 * the child's namespace changes. A tool's maps are found through its own pid (the map ids in
 * /proc/PID/fdinfo of its bpf-map fds), never by name, so tests running at the same time never
 * touch each other's maps. Output is line-buffered (stdbuf) so a test sees each line as it is
 * printed. The tool is stopped (SIGINT, then SIGKILL) when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { BpfMap, type MapInfo } from '../src/index.js';

/** A tool running as a child of the test. */
export interface RunningTool {
  readonly child: ChildProcess;
  /** The tool's pid (the namespace wrapper execs the tool, so it is the child's pid). */
  readonly pid: number;
  /** Everything the tool printed on stdout so far. */
  stdout(): string;
  /** Everything the tool printed on stderr so far. */
  stderr(): string;
  /** Info of every map the tool holds open now. */
  maps(): MapInfo[];
  /** The one map of the tool that `pick` selects; throws naming the tool's maps otherwise. */
  map(pick: (info: MapInfo) => boolean, what: string): MapInfo;
  /** Sends `signal` (SIGINT by default) and resolves with the exit status and all output. */
  stop(signal?: NodeJS.Signals): Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** Ids of the maps a process holds fds of (from /proc/PID/fd and fdinfo). */
export function mapIdsOfProcess(pid: number): number[] {
  const ids = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      const id = /^map_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (id !== undefined) ids.add(Number(id));
    } catch {
      // The fd closed meanwhile.
    }
  }
  return [...ids].sort((a, b) => a - b);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts `argv` (a tool and its arguments) in its own mount namespace with tracefs, and waits
 * until its stdout or stderr matches `ready` (its banner, printed once attached) or `timeoutMs`
 * passes (then it throws with what the tool printed).
 */
export async function startTool(t: TestContext, argv: readonly string[], ready: RegExp, timeoutMs = 20_000): Promise<RunningTool> {
  // stdbuf: the tools print through stdio, which a pipe would buffer past their banner.
  const script = 'mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec stdbuf -oL -eL "$@"';
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  let done = false;
  void exited.then(() => (done = true));
  const stop = async (signal: NodeJS.Signals = 'SIGINT'): Promise<{ status: number | null; stdout: string; stderr: string }> => {
    if (!done) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const status = await exited;
    clearTimeout(timer);
    return { status, stdout, stderr };
  };
  t.after(async () => {
    await stop();
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(stdout) && !ready.test(stderr)) {
    if (done || Date.now() > deadline) {
      throw new Error(`${argv.join(' ')} did not get ready (${done ? 'it exited' : 'timeout'}): ${stdout}${stderr}`);
    }
    await sleep(20);
  }
  const maps = (): MapInfo[] => {
    const infos: MapInfo[] = [];
    for (const id of mapIdsOfProcess(pid)) {
      try {
        infos.push(BpfMap.infoById(id));
      } catch {
        // Gone meanwhile.
      }
    }
    return infos;
  };
  return {
    child,
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    maps,
    map(pick, what) {
      const all = maps();
      const found = all.filter(pick);
      if (found.length !== 1) {
        throw new Error(`${argv[0]} (pid ${pid}) has ${found.length} maps that are ${what}; its maps: ${all.map((info) => `${info.id} ${info.typeName} ${info.name}`).join(', ')}`);
      }
      return found[0] as MapInfo;
    },
    stop,
  };
}

/**
 * Load for tools that trace signals: `loops` low-priority shell loops sending signal 0 to a
 * sleeping child of their own, as fast as they can. Stopped when the test ends (or by `stop()`).
 */
export function signalLoad(t: TestContext, loops = 2): { stop(): void } {
  const children: ChildProcess[] = [];
  for (let i = 0; i < loops; i++) {
    // nice 19: the load must not starve the processes under test on a small machine.
    children.push(spawn('nice', ['-n', '19', 'sh', '-c', 'sleep 1000 & target=$!; trap "kill $target; exit" TERM; while :; do kill -0 $target; done'], { stdio: 'ignore' }));
  }
  const stop = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  t.after(stop);
  return { stop };
}
