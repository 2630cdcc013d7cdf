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
