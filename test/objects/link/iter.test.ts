/**
 * Iterators: an iter/bpf_map program prints one line per map; reading its link runs it and
 * returns the output, which must list a map the test creates, by id and name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachIter, BpfMap } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { linksOfProgram, loadFixture } from './helpers.js';

test('iter/bpf_map: each read runs the iterator and lists every map, including one made now', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const program = fixture.program('list_maps');
  const name = `it${process.pid % 100000}`;
  const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name });
  t.after(() => map.close());
  {
    using iter = attachIter(program);
    assert.equal(iter.info().typeName, 'iter');
    assert.equal(iter.info().name, 'bpf_map');
    const lines = iter.readText().split('\n');
    assert.ok(lines.includes(`${map.info.id} ${name}`), `the iterator lists map ${map.info.id} ${name}`);
    assert.ok(lines.length > 2);
    // A second read runs it again, and sees a map created in between.
    const later = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: `${name}b` });
    t.after(() => later.close());
    assert.ok(iter.readText().split('\n').includes(`${later.info.id} ${name}b`));
    assert.throws(() => iter.read(8), { code: 'E2BIG' });
  }
  assert.deepEqual(linksOfProgram(program.id), []);
});
