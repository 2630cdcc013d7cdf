/**
 * Extra and misspelled fields in typed values are `ERR_BPFMAP_UNKNOWN_FIELD` errors naming the
 * field, the fields expected and the closest one ("did you mean"), and change nothing: in
 * `BpfRecord` values (library) and in JSON typed on the CLI (BTF maps). Before, a record dropped
 * an extra field silently, and a misspelled one failed as "missing" under the name the user had
 * not misspelled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfRecord } from '../../src/index.js';
import { closestName } from '../../src/codec/field-names.js';
import { needs, pinDir, loadBpfObject, buildBpfObject, bpfUnavailable } from '../helpers.js';
import { runCli } from '../cli/run-cli.js';
import { throwsCoded } from './coded.js';

const flow = BpfRecord.define([
  ['uid', 'I'],
  ['gid', 'I'],
  ['inner', [['tag', '4s'], ['count', 'Q']]],
  ['items', [[['x', 'B']], [['x', 'B']]]],
]);
type Flow = Parameters<typeof flow.pack>[0];
const good: Flow = { uid: 1, gid: 2, inner: { tag: new Uint8Array(4), count: 3n }, items: [{ x: 4 }, { x: 5 }] };

/** Packs a value the static type would refuse, as JavaScript callers and JSON can. */
const packLoose = (value: unknown): Uint8Array => flow.pack(value as Flow);

test('a record refuses an extra field, naming it and the fields it has', () => {
  throwsCoded(() => packLoose({ ...good, extra: 1 }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.extra: .*no field 'extra' \(fields: uid, gid, inner, items\)$/);
  throwsCoded(() => packLoose({ ...good, inner: { ...good.inner, more: 0 } }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.inner\.more: .*\(fields: tag, count\)$/);
  throwsCoded(() => packLoose({ ...good, items: [{ x: 1 }, { x: 2, 'odd name': 3 }] }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.items\[1\]\["odd name"\]: /);
});

test('a misspelled record field is named as such, with the field it misspells', () => {
  // The same key count as the record's fields: found because a field is missing.
  const { gid: _gid, ...withoutGid } = good;
  throwsCoded(() => packLoose({ ...withoutGid, gdi: 2 }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.gdi: .*no field 'gdi' \(did you mean 'gid'\?\)/);
  throwsCoded(() => packLoose({ ...good, inner: { tag: new Uint8Array(4), cuont: 3n } }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.inner\.cuont: .*did you mean 'count'/);
  throwsCoded(() => packLoose({ ...withoutGid, GID: 2 }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /did you mean 'gid'/);
  // A misspelling and a bad value: the unknown field is reported first, as BTF codecs do.
  throwsCoded(() => packLoose({ ...withoutGid, uid: 'one', gdi: 2 }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /gdi/);
  // Nothing close: no guess, still the list.
  throwsCoded(() => packLoose({ ...withoutGid, zzzzzz: 2 }), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /^value\.zzzzzz: [^(]*\(fields: /);
});

test('what still passes: exact values, undefined extras, fields in any order, decoded values', () => {
  const bytes = flow.pack(good);
  assert.deepEqual(flow.unpack(bytes), good);
  assert.deepEqual(packLoose({ ...good, extra: undefined }), bytes, 'an undefined member is a missing one');
  assert.deepEqual(packLoose({ items: good.items, inner: good.inner, gid: 2, uid: 1 }), bytes);
  assert.deepEqual(flow.pack(flow.unpack(bytes)), bytes);
  // A truly missing field keeps its own error.
  const { gid: _gid, ...withoutGid } = good;
  throwsCoded(() => packLoose(withoutGid), TypeError, 'ERR_BPFMAP_RECORD_TYPE', /^value\.gid: missing/);
});

test('closestName: case, transpositions and small edits, nothing far', () => {
  assert.equal(closestName('gdi', ['uid', 'gid']), 'gid');
  assert.equal(closestName('Timestamp', ['timestamp', 'bytes']), 'timestamp');
  assert.equal(closestName('packts', ['packets', 'bytes']), 'packets');
  assert.equal(closestName('zzz', ['uid', 'gid']), undefined);
  assert.equal(closestName('protocl', ['pid', 'protocol', 'port']), 'protocol');
});

test('a typed map refuses the value and is unchanged', { skip: bpfUnavailable() }, (t) => {
  const raw = BpfMap.create({ type: 'hash', keySize: 4, valueSize: flow.size, maxEntries: 4 });
  t.after(() => raw.close());
  const map = raw.withCodecs(new BpfRecord<number>('I'), flow);
  t.after(() => map.close());
  map.set(1, good);
  const before = raw.get(new Uint8Array([1, 0, 0, 0]));
  throwsCoded(() => map.set(1, { ...good, uid: 9, extra: 1 } as Flow), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /extra/);
  const { gid: _gid, ...withoutGid } = good;
  throwsCoded(() => map.set(1, { ...withoutGid, uid: 9, gdi: 7 } as unknown as Flow), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /did you mean 'gid'/);
  throwsCoded(() => map.setBatch([[2, { ...good, extra: 1 } as Flow]]), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /extra/);
  assert.deepEqual(raw.get(new Uint8Array([1, 0, 0, 0])), before);
  assert.equal(map.get(2), undefined);
});

test('CLI JSON: a misspelled member of a BTF value is refused with a guess, and nothing is written', needs('clang', 'bpftool'), (t) => {
  const { maps } = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'safety-js-fields'));
  const pin = path.join(maps, 'btf_pcarray');
  const ok = runCli('update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '{"tag": "ab", "s": 5}');
  assert.equal(ok.status, 0, ok.stderr);
  const bad = runCli('update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '{"tag": "cd", "ss": 6}');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no member 'ss' \(did you mean 's'\?\)/);
  const extra = runCli('update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '{"tag": "cd", "s": 6, "extra": 1}');
  assert.notEqual(extra.status, 0);
  assert.match(extra.stderr, /no member 'extra'.*\(members: tag, s\)/);
  const read = runCli('-j', 'lookup', 'pinned', pin, 'key', '1', '0', '0', '0');
  assert.equal(read.status, 0, read.stderr);
  const formatted = (JSON.parse(read.stdout) as { formatted: { values: { value: unknown }[] } }).formatted.values;
  assert.ok(formatted.every(({ value }) => JSON.stringify(value) === JSON.stringify({ tag: 'ab', s: 5 })), read.stdout);
});
