/**
 * Fuzzing real clang output: the `.BTF` section of test/fixtures/btf_types.bpf.c (every kind the
 * fixture declares, in both byte orders) and the object file around it (ELF header and section
 * table), so that the parser meets the shapes and sizes real compilers write, not only the
 * builder's. Bounded to 3 s in all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildBpfObject, needs } from '../helpers.js';
import { Btf } from '../../src/codec/btf/btf.js';
import { elfSection } from '../../src/codec/btf/elf.js';
import { btfFromBytes } from '../../src/codec/btf/sources.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import { exerciseBtf, fuzz } from './fuzz.js';

/** The fixture's `.BTF` section, and the same types written big-endian. */
function fixtureSeeds(): { object: Uint8Array; section: Uint8Array; swapped: Uint8Array } {
  const object = new Uint8Array(readFileSync(buildBpfObject('btf_types')));
  const section = elfSection(object, '.BTF');
  assert.ok(section, 'the fixture has a .BTF section');
  const btf = Btf.parse(section);
  const builder = new BtfBuilder();
  for (let id = 1; id <= btf.lastTypeId; id++) builder.import(btf, id);
  return { object, section: section.slice(), swapped: builder.build({ littleEndian: false }) };
}

test('fuzz: the fixture\'s .BTF section, mutated, only ever throws BtfError', needs('clang'), () => {
  const { section, swapped } = fixtureSeeds();
  // The unmutated seeds parse and exercise cleanly.
  exerciseBtf(section);
  exerciseBtf(swapped);
  assert.equal(Btf.parse(swapped).lastTypeId, Btf.parse(section).lastTypeId);
  fuzz({
    seeds: [section, swapped],
    runs: 1500,
    seed: 4242,
    // Mostly the type records (where vlen, sizes and references live), sometimes anywhere.
    region: (seed, random) => {
      if (random(4) === 0) return [0, seed.length];
      const header = Btf.parse(seed).header;
      const start = header.headerLength + header.typeOffset;
      return [start, start + header.typeLength];
    },
  });
});

test('fuzz: the fixture object file, mutated in its ELF and section headers, only ever throws BtfError', needs('clang'), () => {
  const { object } = fixtureSeeds();
  const sectionTable = Number(new DataView(object.buffer, object.byteOffset).getBigUint64(0x28, true));
  fuzz({
    seeds: [object],
    runs: 3000,
    seed: 777,
    region: (seed, random) => (random(2) === 0 ? [0, 64] : [sectionTable, seed.length]),
    exercise: (bytes) => exerciseBtf(bytes, (b) => btfFromBytes(b)),
  });
});
