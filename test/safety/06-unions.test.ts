/**
 * Unions in BTF-typed maps: a union is written as exactly one member; a value read from the map
 * keeps every member and writes back the one that changed (read-modify-write); several members
 * given, or a member the type does not have, are errors naming them. Before, every member was
 * required and the largest present one silently won, so a changed smaller member was dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openTyped, generateTypeScript, btfFromFile } from '../../src/index.js';
import { needs, pinDir, loadBpfObject, buildBpfObject } from '../helpers.js';
import { throwsCoded } from './coded.js';

type Either = { inner?: { tag: string; s: number }; whole?: bigint; text?: string };

test('a union takes one member, and read-modify-write changes the member that changed', needs('clang', 'bpftool'), (t) => {
  const { maps } = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'safety-js-union'));
  const array = openTyped<number, Either>(path.join(maps, 'btf_array'));
  t.after(() => array.close());

  array.set(0, { inner: { tag: 'ab', s: 5 } });
  assert.deepEqual(array.get(0)?.inner, { tag: 'ab', s: 5 });
  array.set(1, { whole: 0x0102030405060708n });
  assert.equal(array.get(1)?.whole, 0x0102030405060708n);

  // Read-modify-write of the smaller member: before, the unchanged `whole` overwrote it.
  const read = array.get(0)!;
  assert.ok(read.inner && read.whole !== undefined && read.text !== undefined, 'a decoded union has every member');
  read.inner.s = 9;
  array.set(0, read);
  assert.deepEqual(array.get(0)?.inner, { tag: 'ab', s: 9 });
  const again = array.get(0)!;
  again.text = 'xyz';
  array.set(0, again);
  assert.equal(array.get(0)?.text, 'xyz');
  const unchanged = array.get(0)!;
  array.set(0, unchanged);
  assert.deepEqual(array.get(0), unchanged, 'writing back what was read changes nothing');

  const before = array.get(0);
  throwsCoded(() => array.set(0, { inner: { tag: '', s: 0 }, whole: 0n, text: '' }), TypeError, 'ERR_BPFMAP_BTF_UNION', /exactly one member, got inner, whole, text/);
  throwsCoded(() => array.set(0, {}), TypeError, 'ERR_BPFMAP_BTF_UNION', /needs one of its members \(inner, whole, text\)/);
  const twoChanged = array.get(0)!;
  twoChanged.whole = 1n;
  twoChanged.text = 'zz';
  throwsCoded(() => array.set(0, twoChanged), TypeError, 'ERR_BPFMAP_BTF_UNION', /whole, text were all changed/);
  throwsCoded(() => array.set(0, { wholee: 1n } as Either), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /no member 'wholee'/);
  throwsCoded(() => array.set(0, { whole: 'x' } as unknown as Either), TypeError, 'ERR_BPFMAP_BTF_TYPE', /\.whole/);
  throwsCoded(() => array.set(0, { whole: -1n }), RangeError, 'ERR_BPFMAP_BTF_RANGE', /\.whole/);
  throwsCoded(() => array.set(0, { inner: { tag: 'a', s: 1, extra: 1 } } as Either), TypeError, 'ERR_BPFMAP_UNKNOWN_FIELD', /\.inner\.extra|no member 'extra'/);
  assert.deepEqual(array.get(0), before, 'failed writes changed nothing');
});

test('generateTypeScript writes a union as a union of single-member objects', needs('clang'), () => {
  const btf = btfFromFile(buildBpfObject('btf_types'));
  const ts = generateTypeScript(btf, [btf.typeByName('either').id, btf.typeByName('value').id]);
  assert.match(ts, /export type either = \(\{\n {2}inner: inner;\n\} \| \{\n {2}whole: bigint;\n\} \| \{\n {2}text: string;\n\}\);/);
  assert.match(ts, /export type value = \{\n[^]*\} & \(\{\n {2}u: number;\n\} \| \{\n {2}b: number\[\];\n\} \| \{\n {2}lo: number;\n {2}hi: number;\n\}\);/);
});
