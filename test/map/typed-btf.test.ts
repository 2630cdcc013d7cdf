import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, possibleCpus } from '../../src/index.js';
import { needs, pinDir, buildBpfObject, loadBpfObject, u32le } from '../helpers.js';

test('map.btf() and map.typed() read a map through its own C types', needs('clang', 'bpftool'), (t) => {
  const { maps } = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'typed-btf'));
  using raw = BpfMap.openPinned(path.join(maps, 'btf_pcarray'));
  const btf = raw.btf();
  assert.ok(btf, 'a map loaded from an object with BTF has BTF');
  const info = raw.info;
  assert.equal(btf.type(info.btfValueTypeId).name, 'inner');
  assert.equal(btf.size(info.btfValueTypeId), raw.valueSize);

  using typed = raw.typed<number, Array<Record<string, unknown>>>();
  const perCpu = typed.get(1);
  assert.ok(Array.isArray(perCpu));
  assert.equal(perCpu.length, possibleCpus());
  const fields = Object.keys(perCpu[0]!);
  assert.ok(fields.length > 0, 'values decode to objects with the struct members');
  // Round trip: write through the typed handle, read raw bytes back through the raw one.
  typed.set(2, perCpu);
  assert.deepEqual(raw.get(u32le(2)), raw.get(u32le(1)));
  assert.equal(raw.closed, false, 'typed() makes a new handle; the raw one stays open');

  using plain = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(plain.btf(), undefined);
  assert.throws(() => plain.typed(), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_BPFMAP_NO_BTF');
});
