/**
 * `/api/maps/{id}/events` with real records from a loaded program: perf event array samples (a
 * program (test/fixtures/serve_perf.bpf.c) run with BPF_PROG_TEST_RUN writes numbered samples through bpf_perf_event_output)
 * arrive decoded through the program's BTF, every one with the values and CPU it was written
 * with; two clients of one ring buffer both get every record, in order, through the one
 * shared consumer the events library gives the process; and a ring buffer that another process
 * consumes is refused (409, naming the process and --force) unless the server is started with
 * `ignoreOtherProcesses` (`bpfmap serve --force`), which then streams every record.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { eventSubscribers } from '../../src/events/fan-out.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { needs, repoRoot, tempDir } from '../helpers.js';
import { runCli, startCli } from '../cli/run-cli.js';
import { FixtureState, loadFixture, runProgram } from '../events/fixtures.js';
import { freePort, request, sseClient } from './helpers.js';

test('perf event array samples of a loaded program stream through SSE, decoded through its BTF, every one', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'serve_perf');
  const eventsPin = path.join(fixture.maps, 'events');
  using events = BpfMap.openPinned(eventsPin);
  // Reading a perf event array installs the server's perf buffers in it: --allow-write.
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: eventsPin }], port: await freePort(), allowWrite: true });
  const { port } = await server.listen();
  t.after(() => server.close());

  const client = sseClient(`http://127.0.0.1:${port}/api/maps/${events.id}/events?type=${encodeURIComponent('struct sample')}`);
  t.after(() => client.close());
  await client.opened;
  // The server's perf buffers are in the map once a subscriber exists.
  for (let i = 0; i < 100 && eventSubscribers(events.id) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(eventSubscribers(events.id), 1);

  const total = 200;
  // Runs on two CPUs when there are two, so samples come through more than one perf buffer.
  await runProgram(fixture, 'produce', total / 2, 0);
  await runProgram(fixture, 'produce', total / 2, availableParallelism() > 1 ? 1 : 0);
  await client.until(total, 20_000);

  const seen = new Set<string>();
  for (const data of client.data) {
    const record = JSON.parse(data.replace(/"seq":(\d+)/, '"seq":"$1"')) as { cpu: number; formatted: { seq: string; cpu: number; magic: number } };
    // The values the program wrote: its CPU (the same the perf buffer says), the magic word.
    assert.equal(record.formatted.magic, 0xfeedbeef);
    assert.equal(record.formatted.cpu, record.cpu, `sample ${record.formatted.seq}: written on the CPU whose buffer delivered it`);
    assert.ok(!seen.has(record.formatted.seq), `sample ${record.formatted.seq} once`);
    seen.add(record.formatted.seq);
  }
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  assert.equal(state.get(0), total, 'the program wrote every sample');
  assert.deepEqual([...seen].map(Number).sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), 'every sample arrived');

  client.close();
  for (let i = 0; i < 100 && eventSubscribers(events.id) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(eventSubscribers(events.id), 0, 'the last client gone, the shared reader is closed');
});

test('two clients of one ring buffer both get every record, in order', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const eventsPin = path.join(fixture.maps, 'events');
  using events = BpfMap.openPinned(eventsPin);
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: eventsPin }], port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());
  const url = `http://127.0.0.1:${port}/api/maps/${events.id}/events`;
  const first = sseClient(url);
  const second = sseClient(url);
  t.after(() => {
    first.close();
    second.close();
  });
  await Promise.all([first.opened, second.opened]);
  for (let i = 0; i < 100 && eventSubscribers(events.id) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(eventSubscribers(events.id), 2, 'both streams share one reader');

  // More records than the one-page ring holds at once: the shared consumer must keep up for both.
  const total = 2000;
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, total);
  while (state.get(0) < total) await runProgram(fixture, 'produce', total - state.get(0));
  await Promise.all([first.until(total, 30_000), second.until(total, 30_000)]);

  // The program's sequence only advances when a record is committed (a full ring makes it retry),
  // so each client must get exactly 0..total-1, in order, none twice, none torn.
  for (const [name, client] of [['first', first], ['second', second]] as const) {
    const seqs = client.data.map((data) => {
      const bytes = Buffer.from((JSON.parse(data) as { data: string }).data, 'hex');
      const seq = bytes.readBigUInt64LE(0);
      assert.equal(bytes.readBigUInt64LE(8), ~seq & 0xffffffffffffffffn, `${name}: record ${seq} intact`);
      return Number(seq);
    });
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i), `${name}: every record, in order`);
  }
  assert.deepEqual(first.data, second.data, 'the two clients got the same records');
});

/** Starts a second Node process that opens the ring buffer at `pin` as its consumer; resolves its pid once it holds it. */
async function startConsumer(t: TestContext, pin: string): Promise<number> {
  const file = path.join(tempDir(t, 'serve-consumer'), 'consumer.mjs');
  writeFileSync(file, [
    `import { RingBuffer } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};`,
    'const ring = RingBuffer.open(process.argv[2]);',
    "process.stdout.write('ready\\n');",
    'setInterval(() => ring.closed, 1000);',
  ].join('\n'));
  const child = spawn(process.execPath, [file, pin], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`consumer exited ${code}: ${stderr}`)));
  });
  return child.pid as number;
}

/** Runs the ring fixture's program until it has written `total` records in all. */
async function produce(fixture: ReturnType<typeof loadFixture>, state: FixtureState, total: number): Promise<void> {
  state.set(1, total);
  while (state.get(0) < total) await runProgram(fixture, 'produce', total - state.get(0));
}

test('a ring buffer another process consumes: 409 naming it, unless serve has --force (ignoreOtherProcesses)', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const eventsPin = path.join(fixture.maps, 'events');
  using events = BpfMap.openPinned(eventsPin);
  const pid = await startConsumer(t, eventsPin);
  const state = new FixtureState(fixture);
  t.after(() => state.close());

  // Without the option: refused before any stream starts, with the process and the way out named.
  const strict = new BpfmapServer({ maps: [{ kind: 'pinned', path: eventsPin }], port: await freePort() });
  const strictPort = (await strict.listen()).port;
  t.after(() => strict.close());
  const refused = await request(`http://127.0.0.1:${strictPort}/api/maps/${events.id}/events`);
  assert.equal(refused.status, 409, refused.body);
  const error = (JSON.parse(refused.body) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'ERR_BPFMAP_IN_USE');
  assert.match(error.message, new RegExp(`pid ${pid} \\(node\\)`));
  assert.match(error.message, /--force/);
  assert.equal(eventSubscribers(events.id), 0, 'the refusal left no reader behind');
  assert.throws(() => new BpfmapServer({ maps: [], ignoreOtherProcesses: 'yes' as never }), (e: unknown) => (e as { code?: string }).code === 'ERR_BPFMAP_OPTIONS');

  // With it: the stream reads the ring anyway (the other consumer only holds it), every record.
  const forced = new BpfmapServer({ maps: [{ kind: 'pinned', path: eventsPin }], port: await freePort(), ignoreOtherProcesses: true });
  const forcedPort = (await forced.listen()).port;
  t.after(() => forced.close());
  const client = sseClient(`http://127.0.0.1:${forcedPort}/api/maps/${events.id}/events`);
  t.after(() => client.close());
  await client.opened;
  await produce(fixture, state, 50);
  await client.until(50, 30_000);
  const seqs = client.data.map((data) => Number(Buffer.from((JSON.parse(data) as { data: string }).data, 'hex').readBigUInt64LE(0)));
  assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i));
  client.close();
  for (let i = 0; i < 100 && eventSubscribers(events.id) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));

  // The CLI: `bpfmap serve --force` streams the same ring; its help says so.
  const port = await freePort();
  const cli = startCli('serve', 'pinned', eventsPin, '--listen', `127.0.0.1:${port}`, '--force');
  t.after(async () => {
    if (cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
  for (let i = 0; i < 250; i++) {
    if ((await request(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const viaCli = sseClient(`http://127.0.0.1:${port}/api/maps/${events.id}/events`);
  t.after(() => viaCli.close());
  await viaCli.opened;
  await produce(fixture, state, 60);
  await viaCli.until(10, 30_000);
  assert.equal(Buffer.from((JSON.parse(viaCli.data[0] as string) as { data: string }).data, 'hex').readBigUInt64LE(0), 50n);
  const help = runCli('help', 'serve');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--force/);
  assert.match(help.stdout, /another process/);
});
