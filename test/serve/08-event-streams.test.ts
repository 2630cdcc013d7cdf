/**
 * `/api/maps/{id}/events` with real records from a loaded program: perf event array samples (a
 * program (test/fixtures/serve_perf.bpf.c) run with BPF_PROG_TEST_RUN writes numbered samples through bpf_perf_event_output)
 * arrive decoded through the program's BTF, every one with the values and CPU it was written
 * with; and two clients of one ring buffer both get every record, in order, through the one
 * shared consumer the events library gives the process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet, type ClientRequest } from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { eventSubscribers } from '../../src/events/fan-out.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from '../events/fixtures.js';
import { freePort } from './helpers.js';

/** An SSE client: the `data:` of each `record` event as it comes; `opened` once the server answered 200. */
function sseClient(url: string): { records: string[]; opened: Promise<void>; until: (count: number, timeoutMs: number) => Promise<void>; close: () => void } {
  const records: string[] = [];
  let buffer = '';
  let notify: (() => void) | undefined;
  let req: ClientRequest;
  const opened = new Promise<void>((resolve, reject) => {
    req = httpGet(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`status ${res.statusCode}`));
        return;
      }
      resolve();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('event: record\n')) records.push(block.slice(block.indexOf('data: ') + 6));
        }
        notify?.();
      });
    });
    req.on('error', reject);
  });
  return {
    records,
    opened,
    until: (count, timeoutMs) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${records.length} of ${count} records after ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (records.length >= count) {
          clearTimeout(timer);
          notify = undefined;
          resolve();
        }
      };
      notify = check;
      check();
    }),
    close: () => req.destroy(),
  };
}

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
  for (const data of client.records) {
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
    const seqs = client.records.map((data) => {
      const bytes = Buffer.from((JSON.parse(data) as { data: string }).data, 'hex');
      const seq = bytes.readBigUInt64LE(0);
      assert.equal(bytes.readBigUInt64LE(8), ~seq & 0xffffffffffffffffn, `${name}: record ${seq} intact`);
      return Number(seq);
    });
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i), `${name}: every record, in order`);
  }
  assert.deepEqual(first.records, second.records, 'the two clients got the same records');
});
