/**
 * One consumer per ring buffer and one producer per user ring buffer across processes, as far
 * as /proc shows them: a second Node process that reads (writes) the ring, and a real tool
 * (libbpf-tools' mountsnoop, which reads a ring buffer), make `open` a `BpfInUseError` naming
 * the pid and comm; `ignoreOtherProcesses` (the CLI's `--force`) overrides; a process that only
 * holds the map's fd is not a consumer; without permission to read /proc the check finds
 * nothing and does not fail. Before, only readers in the same process were refused.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { BpfInUseError, BpfMap, RingBuffer, UserRingBuffer, findOtherRingUsers } from '../../src/index.js';
import { needs, repoRoot, tempDir } from '../helpers.js';
import { loadFixture } from '../events/fixtures.js';
import { startTool } from '../real-tools.js';
import { runCli } from '../cli/run-cli.js';

const library = JSON.stringify(path.join(repoRoot, 'dist/src/index.js'));

/** Starts a Node child running `source` (with `bpfmap` meaning this build); resolves once it prints `ready`. */
async function startHolder(t: TestContext, source: string, args: string[]): Promise<number> {
  const file = path.join(tempDir(t, 'safety-js-holder'), 'holder.mjs');
  writeFileSync(file, source.replaceAll("'bpfmap'", library));
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}: ${stderr}`)));
  });
  return child.pid!;
}

/** A holder that opens `Reader` on the pin, or only the map when `Reader` is 'map', then waits. */
const holder = `
  import { RingBuffer, UserRingBuffer, BpfMap } from 'bpfmap';
  const [pin, what] = process.argv.slice(2);
  const held = what === 'consumer' ? RingBuffer.open(pin) : what === 'producer' ? UserRingBuffer.open(pin) : BpfMap.openPinned(pin);
  process.stdout.write('ready\\n');
  setInterval(() => held.closed, 1000);
`;

const refusedBy = (pid: number, comm: string) => (error: unknown): boolean => {
  assert.ok(error instanceof BpfInUseError, String(error));
  assert.equal(error.code, 'ERR_BPFMAP_IN_USE');
  assert.deepEqual(error.processes.map((p) => p.pid), [pid]);
  assert.equal(error.processes[0]!.comm, comm);
  assert.match(error.message, new RegExp(`pid ${pid} \\(${comm}\\)`));
  assert.match(error.message, /ignoreOtherProcesses/);
  return true;
};

test('a ring buffer read by another Node process is refused, naming it; ignoreOtherProcesses overrides', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const pin = path.join(fixture.maps, 'events');
  const pid = await startHolder(t, holder, [pin, 'consumer']);
  assert.throws(() => RingBuffer.open(pin), refusedBy(pid, 'node'));
  using map = BpfMap.openPinned(pin);
  assert.throws(() => RingBuffer.open(map), refusedBy(pid, 'node'));
  // The refusal changed nothing: the map is open, and the override reads it.
  const forced = RingBuffer.open(pin, { ignoreOtherProcesses: true });
  assert.equal(forced.pendingBytes, 0);
  forced.close();
  assert.throws(() => RingBuffer.open(pin, { ignoreOtherProcesses: 'yes' as never }), (e: unknown) => (e as { code?: string }).code === 'ERR_BPFMAP_OPTION');
  // The CLI names it too, and --force reads anyway.
  const cli = runCli('events', 'pinned', pin, '--timeout', '0.1');
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, new RegExp(`pid ${pid} \\(node\\)`));
  const forcedCli = runCli('events', 'pinned', pin, '--timeout', '0.1', '--force');
  assert.equal(forcedCli.status, 0, forcedCli.stderr);
});

test('a process that only holds the map (no consumer mapping) is not a consumer; a dead consumer frees it', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const pin = path.join(fixture.maps, 'events');
  await startHolder(t, holder, [pin, 'map']);
  RingBuffer.open(pin).close();

  const file = path.join(tempDir(t, 'safety-js-holder'), 'once.mjs');
  writeFileSync(file, holder.replaceAll("'bpfmap'", library).replace("process.stdout.write('ready\\n');", 'process.exit(0);'));
  execFileSync(process.execPath, [file, pin, 'consumer']);
  RingBuffer.open(pin).close();
});

test('a user ring buffer written by another Node process is refused, naming it', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const pin = path.join(fixture.maps, 'requests');
  const pid = await startHolder(t, holder, [pin, 'producer']);
  assert.throws(() => UserRingBuffer.open(pin), refusedBy(pid, 'node'));
  UserRingBuffer.open(pin, { ignoreOtherProcesses: true }).close();
});

test("a real tool's ring buffer (mountsnoop) is refused, naming the tool", needs('mountsnoop', 'unshare'), async (t) => {
  const tool = await startTool(t, ['mountsnoop'], /COMM\s+PID/);
  t.after(() => tool.stop());
  const events = tool.map((info) => info.typeName === 'ringbuf', 'ring buffers');
  using map = BpfMap.fromId(events.id);
  assert.throws(() => RingBuffer.open(map), refusedBy(tool.pid, 'mountsnoop'));
  const cli = runCli('events', 'id', String(events.id), '--timeout', '0.1');
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, new RegExp(`pid ${tool.pid} \\(mountsnoop\\)`));
});

test('without permission to read /proc the check finds nothing and does not fail', needs('setpriv'), (t) => {
  const map = BpfMap.create({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  t.after(() => map.close());
  using reader = RingBuffer.open(map);
  const script = `
    import { findOtherRingUsers } from ${library};
    console.log(JSON.stringify(findOtherRingUsers('consumer', { id: ${map.id}, maxEntries: 4096 })));
  `;
  const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const { users, unreadable } = JSON.parse(out) as { users: unknown[]; unreadable: number };
  assert.deepEqual(users, [], 'another user\'s consumer is invisible without ptrace rights');
  assert.ok(unreadable > 0, 'and the processes it could not look at are counted');
  // With the rights, this process (our own reader) is seen from outside.
  const seen = findOtherRingUsers('consumer', { id: map.id, maxEntries: 4096 });
  assert.deepEqual(seen.users, [], 'a process never counts itself');
  void reader;
});
