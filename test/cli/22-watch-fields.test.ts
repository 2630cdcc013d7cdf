/**
 * `watch` shows rates only for counters: not for enums (by BTF, even for a number no enumerator
 * names) nor for fields whose names say time or identity (ts, *_ns, pid); and it says when no
 * program uses the map any more (orphaned), in text and in -j.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, BpfRecord, createWithRecords } from '../../src/index.js';
import { loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { loadFixture } from '../events/fixtures.js';
import { buildCliFixture, startCli } from './run-cli.js';

type WatchDocument = { map: { orphaned: boolean }; entries: Array<{ key: unknown; value: Record<string, unknown> }> };

function documents(stdout: string): WatchDocument[] {
  return stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as WatchDocument);
}

test('watch -j: rates for counters, none for times, ids (by name) and enums (by BTF)', needs('clang', 'bpftool'), async (t) => {
  const dir = pinDir(t, 'cli-watch-fields');
  const key = BpfRecord.define([['id', 'I']], { name: 'key' });
  const value = BpfRecord.define([['packets', 'Q'], ['ts', 'Q'], ['delta_ns', 'Q'], ['pid', 'I'], ['bytes', 'I']], { byteOrder: '@' });
  const pin = path.join(dir, 'named');
  {
    using map = createWithRecords({ type: 'hash', maxEntries: 4, name: 'cli_watch_f' }, { key, value });
    map.set({ id: 1 }, { packets: 1n, ts: 1n, delta_ns: 1n, pid: 1, bytes: 1 });
    map.pin(pin);
  }
  const { maps } = loadBpfObject(buildCliFixture(tempDir(t, 'cli-watch-fields')), dir);
  const flows = path.join(maps, 'flows');
  using flowMap = BpfMap.openPinned(flows);
  const flowKey = new Uint8Array(8);
  const flowValue = new Uint8Array(flowMap.valueSize);
  // packets (u64 at 0) = 1, color (enum at 32) = 5, a number no enumerator names.
  new DataView(flowValue.buffer).setBigUint64(0, 1n, true);
  new DataView(flowValue.buffer).setUint32(32, 5, true);
  flowMap.set(flowKey, flowValue);

  for (const [target, expectRates, expectNone] of [
    [pin, ['packets/s', 'bytes/s'], ['ts/s', 'delta_ns/s', 'pid/s']],
    [flows, ['packets/s', 'delta/s'], ['color/s']],
  ] as Array<[string, string[], string[]]>) {
    const watcher = startCli('-j', 'watch', 'pinned', target, '--interval', '0.1');
    const stdout = await watcher.waitForStdout((text) => documents(text).length >= 2, 'two documents');
    watcher.child.kill('SIGINT');
    assert.equal((await watcher.exited).status, 0);
    const second = documents(stdout)[1]?.entries[0]?.value ?? {};
    for (const column of expectRates) assert.ok(column in second, `${path.basename(target)}: ${column} in ${JSON.stringify(second)}`);
    for (const column of expectNone) assert.ok(!(column in second), `${path.basename(target)}: no ${column} in ${JSON.stringify(second)}`);
  }
  assert.equal(flowMap.get(flowKey)?.[32], 5, 'the enum field held a number without a name');
});

test('watch marks a map orphaned once the programs using it are gone', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'spin_lock');
  const pin = path.join(fixture.maps, 'counters');
  const watcher = startCli('-j', 'watch', 'pinned', pin, '--interval', '0.2');
  t.after(() => watcher.child.kill('SIGKILL'));
  const before = await watcher.waitForStdout((text) => documents(text).length >= 1, 'a first document');
  assert.equal(documents(before)[0]?.map.orphaned, false, 'the bump program uses the map');
  // Unpinning the program unloads it (nothing else holds it); the pinned map stays.
  rmSync(fixture.progs, { recursive: true, force: true });
  const after = await watcher.waitForStdout((text) => documents(text).at(-1)?.map.orphaned === true, 'an orphaned document');
  assert.ok(documents(after).length >= 2);
  watcher.child.kill('SIGINT');
  assert.equal((await watcher.exited).status, 0);

  // The text header says it too.
  const text = startCli('watch', 'pinned', pin, '--interval', '0.2');
  const frame = await text.waitForStdout((stdout) => stdout.includes('\n\n'), 'a frame');
  text.child.kill('SIGINT');
  await text.exited;
  assert.match(frame, /^counters \(hash, id \d+\): 0 entries, every 0.2 s, [\d:]+ \[orphaned: no program uses this map\]\n/);
});
