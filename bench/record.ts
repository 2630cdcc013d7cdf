/**
 * Record codec throughput: decode and encode of a 10-field record, in fields per second, against a
 * hand-written DataView decoder and encoder in the same run. Goal: at least 10M fields/s, and
 * within 1.5x of the hand-written code.
 *
 * Run: `npm run build && node dist/bench/record.js`
 */
import { BpfRecord } from '../src/index.js';

interface FlowStats {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  timestamp: bigint;
  bytes: bigint;
  packets: bigint;
  flags: number;
  protocol: number;
  state: number;
}

const FIELDS = 10;
const record = new BpfRecord<FlowStats>(
  [
    ['pid', 'I'],
    ['tgid', 'I'],
    ['uid', 'I'],
    ['gid', 'I'],
    ['timestamp', 'Q'],
    ['bytes', 'Q'],
    ['packets', 'Q'],
    ['flags', 'H'],
    ['protocol', 'B'],
    ['state', 'B'],
  ],
  { byteOrder: '<' },
);

/** The baseline: what a careful person writes by hand for this one struct, without checks. */
function handDecode(view: DataView, offset: number): FlowStats {
  return {
    pid: view.getUint32(offset, true),
    tgid: view.getUint32(offset + 4, true),
    uid: view.getUint32(offset + 8, true),
    gid: view.getUint32(offset + 12, true),
    timestamp: view.getBigUint64(offset + 16, true),
    bytes: view.getBigUint64(offset + 24, true),
    packets: view.getBigUint64(offset + 32, true),
    flags: view.getUint16(offset + 40, true),
    protocol: view.getUint8(offset + 42),
    state: view.getUint8(offset + 43),
  };
}

function handEncode(value: FlowStats, view: DataView, offset: number): void {
  view.setUint32(offset, value.pid, true);
  view.setUint32(offset + 4, value.tgid, true);
  view.setUint32(offset + 8, value.uid, true);
  view.setUint32(offset + 12, value.gid, true);
  view.setBigUint64(offset + 16, value.timestamp, true);
  view.setBigUint64(offset + 24, value.bytes, true);
  view.setBigUint64(offset + 32, value.packets, true);
  view.setUint16(offset + 40, value.flags, true);
  view.setUint8(offset + 42, value.protocol);
  view.setUint8(offset + 43, value.state);
}

const RECORDS = 1024;
const buffer = new Uint8Array(RECORDS * record.size);
const view = new DataView(buffer.buffer);
const values: FlowStats[] = Array.from({ length: RECORDS }, (_, i) => ({
  pid: i,
  tgid: i + 1,
  uid: 1000,
  gid: 1000,
  timestamp: BigInt(i) * 1_000_000n,
  bytes: BigInt(i * 1500),
  packets: BigInt(i),
  flags: i & 0xffff,
  protocol: 6,
  state: i & 0xff,
}));
values.forEach((value, i) => record.encode(value, buffer, i * record.size));

/** Runs `pass` (one sweep over all records) repeatedly for about `ms`; returns fields per second. */
function measure(pass: () => number, ms = 300): { fieldsPerSecond: number; checksum: number } {
  let checksum = 0;
  for (let warm = 0; warm < 200; warm++) checksum += pass();
  let sweeps = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 50; i++) checksum += pass();
    sweeps += 50;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return { fieldsPerSecond: (sweeps * RECORDS * FIELDS) / seconds, checksum };
}

const size = record.size;
const benchmarks = {
  'decode, BpfRecord': (): number => {
    let sum = 0;
    for (let i = 0; i < RECORDS; i++) sum += record.decode(buffer, i * size).pid;
    return sum;
  },
  'decode, hand-written DataView': (): number => {
    let sum = 0;
    for (let i = 0; i < RECORDS; i++) sum += handDecode(view, i * size).pid;
    return sum;
  },
  'encode, BpfRecord': (): number => {
    for (let i = 0; i < RECORDS; i++) record.encode(values[i] as FlowStats, buffer, i * size);
    return buffer[0] as number;
  },
  'encode, hand-written DataView (no checks)': (): number => {
    for (let i = 0; i < RECORDS; i++) handEncode(values[i] as FlowStats, view, i * size);
    return buffer[0] as number;
  },
};

const rounds = 5;
const best = new Map<string, number>();
let checksum = 0;
for (let round = 0; round < rounds; round++) {
  for (const [name, pass] of Object.entries(benchmarks)) {
    const result = measure(pass);
    checksum += result.checksum;
    best.set(name, Math.max(best.get(name) ?? 0, result.fieldsPerSecond));
  }
}

const millions = (name: string): string => `${((best.get(name) ?? 0) / 1e6).toFixed(1)}M fields/s`;
console.log(`10-field record (${record.size} bytes), best of ${rounds} rounds, node ${process.version}`);
for (const name of Object.keys(benchmarks)) console.log(`  ${name.padEnd(42)} ${millions(name)}`);
const ratio = (ours: string, baseline: string): string => ((best.get(baseline) ?? 0) / (best.get(ours) ?? 1)).toFixed(2);
console.log(`  decode: hand-written is ${ratio('decode, BpfRecord', 'decode, hand-written DataView')}x BpfRecord (goal <= 1.5x)`);
console.log(`  encode: hand-written is ${ratio('encode, BpfRecord', 'encode, hand-written DataView (no checks)')}x BpfRecord`);
if (checksum === 0.5) console.log(''); // keeps the results observable
