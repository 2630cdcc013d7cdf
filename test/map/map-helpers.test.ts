/**
 * The library helpers the CLI used to keep to itself: per-CPU sums, the programs using a map, and
 * a ring buffer's record type found through the BTF of the program that writes it (decoded
 * records checked against what the program wrote).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfRecord, RingBuffer, btfCodec, findRecordType, possibleCpus, programsUsingMap, sumPerCpu } from '../../src/index.js';
import { needs } from '../helpers.js';
import { loadFixture, runProgram } from '../events/fixtures.js';

test('sumPerCpu adds per-CPU records field by field and arrays element by element', needs(), () => {
  const value = BpfRecord.define([['packets', 'Q'], ['errors', 'I'], ['slots', '4I'], ['comm', '8s']], { strings: 'text' });
  const cpus = possibleCpus();
  const perCpu = Array.from({ length: cpus }, (_, cpu) => ({ packets: BigInt(cpu + 1), errors: cpu, slots: [1, cpu, 0, 2], comm: `cpu${cpu}` }));
  using raw = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: value.size, maxEntries: 2, name: 'sum_pcpu' });
  using map = raw.withCodecs(BpfRecord.define([['index', 'I']]), value) as unknown as BpfMap<{ index: number }, typeof perCpu>;
  map.set({ index: 0 }, perCpu);
  const values = map.get({ index: 0 }) ?? [];
  assert.equal(values.length, cpus);
  const sum = sumPerCpu(values);
  assert.deepEqual(sum, {
    packets: BigInt((cpus * (cpus + 1)) / 2),
    errors: (cpus * (cpus - 1)) / 2,
    slots: [cpus, (cpus * (cpus - 1)) / 2, 0, 2 * cpus],
    comm: 'cpu0',
  });
  assert.deepEqual(sumPerCpu([1, 2, 3]), 6);
  assert.deepEqual(sumPerCpu([5n]), 5n);
  for (const [bad, pattern] of [
    [[], /non-empty array/],
    [[new Uint8Array(8), new Uint8Array(8)], /cannot add raw bytes/],
    [[{ a: 1 }, { a: 1n }], /cpu1\.a: cannot add number and bigint/],
    [[[1, 2], [1]], /arrays of 2 and 1 elements/],
  ] as Array<[never[], RegExp]>) {
    assert.throws(() => sumPerCpu(bad), (error: unknown) => error instanceof TypeError && (error as TypeError & { code: string }).code === 'ERR_BPFMAP_PER_CPU_SUM' && pattern.test(error.message));
  }
});

test('programsUsingMap and findRecordType: a ring buffer without BTF decoded through its program\'s BTF', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_typed');
  using events = BpfMap.openPinned(path.join(fixture.maps, 'events'));
  assert.equal(events.info.btfId, 0, 'libbpf made the ring buffer without BTF');
  const users = programsUsingMap(events);
  assert.equal(users.length, 1, `programs using it: ${users.join(', ')}`);
  using unused = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'no_users' });
  assert.deepEqual(programsUsingMap(unused), []);

  const found = findRecordType(events, 'struct typed_event');
  assert.equal(found.source, 'program');
  assert.equal(found.programId, users[0]);
  assert.equal(found.btf.resolve(found.typeId).name, 'typed_event');
  using reader = RingBuffer.open(events, { decode: btfCodec<{ seq: bigint; check: bigint; tag: unknown; flags: number }>(found.btf, found.typeId) });
  await runProgram(fixture, 'produce', 2);
  const records: Array<[bigint, bigint, number]> = [];
  reader.consume((record) => records.push([record.seq, record.check, record.flags]));
  assert.deepEqual(records, [
    [0n, 0xffff_ffff_ffff_ffffn, 2147483649],
    [1n, 0xffff_ffff_ffff_fffen, 2147483649],
  ]);
  assert.throws(() => findRecordType(events, 'struct no_such_event'), (error: unknown) =>
    error instanceof TypeError && (error as TypeError & { code: string }).code === 'ERR_BPFMAP_RECORD_TYPE' && /no type 'struct no_such_event' in the BTF of the program using it/.test(error.message));
  assert.throws(() => findRecordType(unused, 'int'), /nowhere to look for 'int': no_users has no BTF and no loaded program with BTF uses it/);
  assert.throws(() => findRecordType(events, 'struct 1x'), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_TYPE_NAME');
});
