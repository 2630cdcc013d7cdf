/**
 * bpftool's behaviour in the corners that real tools' maps reach: `show` of frozen maps with BTF
 * and of unnamed maps, `dump` of maps whose values user space cannot read (perf event arrays,
 * cgroup arrays), and `name NAME` selecting several maps. Each output is compared with bpftool's
 * on the same maps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfRecord, createWithRecords } from '../../src/index.js';
import { bpftool, bpftoolJson, needs, pinDir } from '../helpers.js';
import { cliJson, runCli } from './run-cli.js';

/** Both tools' outputs of one command, JSON (parsed) and text (byte for byte). */
function assertSameOutput(bpftoolArgs: string[], bpfmapArgs: string[]): void {
  assert.deepEqual(cliJson(...bpfmapArgs), bpftoolJson(...bpftoolArgs), `-j ${bpfmapArgs.join(' ')}`);
  const text = runCli(...bpfmapArgs);
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stdout, bpftool(...bpftoolArgs), bpfmapArgs.join(' '));
}

test('show: frozen maps print `btf_id N  frozen` (with BTF) or `frozen` alone, as bpftool does', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'tools-show');
  using typed = createWithRecords({ type: 'array', maxEntries: 1, name: 'tools_frozen' }, { key: BpfRecord.define([['index', 'I']]), value: BpfRecord.define([['count', 'Q']]) });
  typed.freeze();
  typed.pin(path.join(dir, 'typed'));
  assert.match(runCli('show', 'pinned', path.join(dir, 'typed')).stdout, /\n\tbtf_id \d+  frozen\n$/);
  assertSameOutput(['map', 'show', 'pinned', path.join(dir, 'typed')], ['show', 'pinned', path.join(dir, 'typed')]);
  using raw = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'tools_frozen2' });
  raw.freeze();
  raw.pin(path.join(dir, 'raw'));
  assertSameOutput(['map', 'show', 'pinned', path.join(dir, 'raw')], ['show', 'pinned', path.join(dir, 'raw')]);
  assertSameOutput(['-f', 'map', 'show', 'pinned', path.join(dir, 'raw')], ['-f', 'show', 'pinned', path.join(dir, 'raw')]);
});

test('show and messages of an unnamed map: no "name" member, `map ID` in messages', needs('bpftool'), () => {
  using unnamed = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
  assertSameOutput(['map', 'show', 'id', String(unnamed.id)], ['show', 'id', String(unnamed.id)]);
  const events = runCli('events', 'id', String(unnamed.id));
  assert.equal(events.status, 2);
  assert.match(events.stderr, new RegExp(`map ${unnamed.id} is hash`));
  assert.doesNotMatch(events.stderr, /'' is/);
});

test('dump of perf event arrays and cgroup arrays lists keys with errors, as bpftool does', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'tools-dump');
  const perf = path.join(dir, 'perf');
  const cgroups = path.join(dir, 'cgroups');
  const wide = path.join(dir, 'wide');
  bpftool('map', 'create', perf, 'type', 'perf_event_array', 'key', '4', 'value', '4', 'entries', '3', 'name', 'tools_perf');
  bpftool('map', 'create', cgroups, 'type', 'cgroup_array', 'key', '4', 'value', '4', 'entries', '2', 'name', 'tools_cgroups');
  bpftool('map', 'create', wide, 'type', 'sockmap', 'key', '4', 'value', '4', 'entries', '2', 'name', 'tools_sockmap');
  for (const pin of [perf, cgroups, wide]) {
    assertSameOutput(['map', 'dump', 'pinned', pin], ['dump', 'pinned', pin]);
    assert.deepEqual(cliJson('-p', 'dump', 'pinned', pin), bpftoolJson('map', 'dump', 'pinned', pin));
  }
  const entries = cliJson<Array<{ key: string[]; value: { error: string } }>>('dump', 'pinned', perf);
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[2], { key: ['0x02', '0x00', '0x00', '0x00'], value: { error: 'Unknown error 524' } });
  assert.match(runCli('dump', 'pinned', perf).stdout, /Found 0 elements\n$/);
});

test('name NAME matching several maps: show and dump act on each, single-map commands refuse', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'tools-names');
  // A name no other test uses, unique to this process.
  const name = `tdup${process.pid.toString(36)}`.slice(0, 15);
  bpftool('map', 'create', path.join(dir, 'a'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '2', 'name', name);
  bpftool('map', 'create', path.join(dir, 'b'), 'type', 'array', 'key', '4', 'value', '8', 'entries', '2', 'name', name);
  bpftool('map', 'update', 'pinned', path.join(dir, 'a'), 'key', '1', '0', '0', '0', 'value', '2', '0', '0', '0');
  assertSameOutput(['map', 'dump', 'name', name], ['dump', 'name', name]);
  assertSameOutput(['map', 'show', 'name', name], ['show', 'name', name]);
  assert.deepEqual(cliJson('-p', 'dump', 'name', name), bpftoolJson('map', 'dump', 'name', name));
  // Compact JSON is one line, byte for byte bpftool's.
  assert.equal(runCli('-j', 'dump', 'name', name).stdout, bpftool('-j', 'map', 'dump', 'name', name));
  const lookup = runCli('lookup', 'name', name, 'key', '1', '0', '0', '0');
  assert.equal(lookup.status, 1);
  assert.match(lookup.stderr, /several maps are named .*\(ids \d+, \d+\)/);
});

test('library: fromName refuses an ambiguous name with the ids, unless asked for the first; allFromName opens all', needs(), () => {
  const name = `tlib${process.pid.toString(36)}`.slice(0, 15);
  using one = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2, name });
  {
    using only = BpfMap.fromName(name);
    assert.equal(only.id, one.id);
  }
  using two = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2, name });
  assert.throws(() => BpfMap.fromName(name), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.equal((error as RangeError & { code: string }).code, 'ERR_BPFMAP_AMBIGUOUS_NAME');
    assert.deepEqual((error as RangeError & { ids: number[] }).ids, [one.id, two.id]);
    assert.match(error.message, new RegExp(`ids ${one.id}, ${two.id}`));
    return true;
  });
  {
    using first = BpfMap.fromName(name, { ambiguous: 'first' });
    assert.equal(first.id, one.id);
  }
  const all = BpfMap.allFromName(name);
  try {
    assert.deepEqual(all.map((map) => map.id), [one.id, two.id]);
  } finally {
    for (const map of all) map.close();
  }
  assert.deepEqual(BpfMap.allFromName(`${name}x`.slice(0, 15) === name ? 'tools_no_such' : `${name}x`.slice(0, 15)), []);
  assert.deepEqual(BpfMap.idsByName(name), [one.id, two.id]);
});
