/**
 * BTF benchmark: parse /sys/kernel/btf/vmlinux (the lazy index), decode every type, build the
 * name index. Run with `node dist/bench/btf.js`.
 */
import { readFileSync } from 'node:fs';
import { Btf } from '../src/codec/btf/btf.js';

const bytes = readFileSync('/sys/kernel/btf/vmlinux');
const rounds = 5;
const timings = { parse: [] as number[], decodeAll: [] as number[], nameIndex: [] as number[] };
let typeCount = 0;
for (let round = 0; round < rounds; round++) {
  const t0 = performance.now();
  const btf = Btf.parse(bytes);
  const t1 = performance.now();
  for (const _ of btf.types()) typeCount++;
  const t2 = performance.now();
  btf.typesByName('task_struct');
  const t3 = performance.now();
  timings.parse.push(t1 - t0);
  timings.decodeAll.push(t2 - t1);
  timings.nameIndex.push(t3 - t2);
}
const median = (values: number[]): string => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]?.toFixed(1) ?? '?';
console.log(`vmlinux: ${(bytes.length / 1e6).toFixed(1)} MB, ${typeCount / rounds} types (median of ${rounds})`);
console.log(`  parse (index + validation): ${median(timings.parse)} ms`);
console.log(`  decode every type:          ${median(timings.decodeAll)} ms`);
console.log(`  first lookup by name:       ${median(timings.nameIndex)} ms`);

// Codecs: one `@` value (56 bytes, with padding) through the BTF codec built from a record's BTF, against the
// record's generated decoder over the same bytes (the fastest path bpfmap has).
const { BpfRecord } = await import('../src/codec/record/record.js');
const { arrayOf } = await import('../src/codec/record/template.js');
const { btfForRecords } = await import('../src/codec/btf/from-record.js');
const { btfCodec } = await import('../src/codec/btf/codec.js');
const { formatBtfValue } = await import('../src/codec/btf/format.js');
const record = new BpfRecord(
  [['pid', 'I'], ['flags', 'H'], ['proto', 'B'], ['ok', '?'], ['packets', 'Q'], ['bytes', 'Q'], ['comm', '16s'], ['ports', arrayOf('H', 4)], ['rtt', 'd']],
  { byteOrder: '@', strings: 'text' },
);
const recordBtf = btfForRecords(undefined, record);
const codec = btfCodec(recordBtf.btf, recordBtf.valueTypeId);
const sample = record.pack({ pid: 42, flags: 3, proto: 6, ok: true, packets: 10n, bytes: 1500n, comm: 'nginx', ports: [80, 443, 8080, 0], rtt: 0.25 });
const perOp = (count: number, fn: () => void): string => {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < count; i++) fn();
    best = Math.min(best, performance.now() - start);
  }
  return `${((best * 1e6) / count).toFixed(0)} ns`;
};
const target = new Uint8Array(record.size);
const decoded = codec.decode(sample, 0);
console.log(`codecs, one ${record.size}-byte value (best of 5 x 200k):`);
console.log(`  BTF codec decode:   ${perOp(200_000, () => codec.decode(sample, 0))}   (record decoder: ${perOp(200_000, () => record.decode(sample, 0))})`);
console.log(`  BTF codec encode:   ${perOp(200_000, () => codec.encode(decoded, target, 0))}`);
console.log(`  bpftool formatting: ${perOp(200_000, () => formatBtfValue(recordBtf.btf, recordBtf.valueTypeId, sample))}`);
