/**
 * ebpf_exporter configurations: counters with decoder chains (uint + syscall, string + regexp,
 * static_map, inet_ip) and exp2 / linear histograms over maps the test fills give the series
 * ebpf_exporter's documented semantics require (label sets that decode alike summed, regexp
 * misses dropped, per-CPU values summed, missing buckets backfilled, the sum key after
 * bucket_max); configurations it would reject, or that use decoders bpfmap lacks, fail at load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { ConfigError, parseMetricsConfig } from '../../src/serve/metrics/ebpf-config.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';
import { parseExposition } from '../../src/serve/metrics/parse.js';
import { bpftoolJson, needs, repoRoot, tempDir } from '../helpers.js';
import { bytes, chars, le, loadServeMaps, sampleValue } from './helpers.js';

/** glibc's makedev() for a 32-bit dev_t, as ebpf_exporter's majorminor decoder reads it. */
function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** The first block device /proc/partitions lists. */
function firstPartition(): { major: number; minor: number; name: string } {
  for (const line of readFileSync('/proc/partitions', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 4 && /^\d+$/.test(fields[0] as string)) return { major: Number(fields[0]), minor: Number(fields[1]), name: fields[3] as string };
  }
  throw new Error('no partition in /proc/partitions');
}

test('ebpf_exporter counters and histograms give its series for the same map contents', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-cfg');
  const cpus = possibleCpus();

  using syscalls = BpfMap.openPinned(pin('syscalls_total'));
  syscalls.set(le(8, 0), le(8, 10));
  syscalls.set(le(8, 1), le(8, 20));
  syscalls.set(le(8, 99999), le(8, 5));

  using events = BpfMap.openPinned(pin('comm_events_total'));
  const ip = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.of(a, b, c, d);
  events.set(bytes(chars(16, 'nginx'), le(4, 1), ip(10, 0, 0, 1)), le(8, 3));
  events.set(bytes(chars(16, 'curl'), le(4, 2), ip(192, 168, 1, 2)), le(8, 4));
  events.set(bytes(chars(16, 'kworker/0:1'), le(4, 1), ip(1, 2, 3, 4)), le(8, 5));
  events.set(bytes(chars(16, 'kworker/1:0'), le(4, 1), ip(1, 2, 3, 4)), le(8, 6));
  events.set(bytes(chars(16, 'bash'), le(4, 1), ip(1, 2, 3, 4)), le(8, 100));
  events.set(bytes(chars(16, 'sshd'), le(4, 3), ip(1, 2, 3, 4)), le(8, 8));

  const disk = firstPartition();
  const dev = makedev(disk.major, disk.minor);
  using bio = BpfMap.openPinned(pin('bio_latency_seconds'));
  // Per-CPU counts: CPU 0 and the last CPU share each bucket's count.
  const perCpu = (count: number): Uint8Array => Array.from({ length: cpus }, (_, cpu) => le(8, cpu === 0 ? count - (cpus > 1 ? 1 : 0) : cpu === cpus - 1 ? 1 : 0)) as unknown as Uint8Array;
  bio.set(bytes(le(4, dev), le(4, 0), le(8, 0)), perCpu(2));
  bio.set(bytes(le(4, dev), le(4, 0), le(8, 1)), perCpu(3));
  bio.set(bytes(le(4, dev), le(4, 0), le(8, 3)), perCpu(1));
  bio.set(bytes(le(4, dev), le(4, 0), le(8, 6)), perCpu(1000)); // the sum key: bucket_max + 1
  bio.set(bytes(le(4, dev), le(4, 1), le(8, 2)), perCpu(4));

  using clamps = BpfMap.openPinned(pin('window_clamps'));
  [1, 0, 2, 0, 0, 3, 50, 9].forEach((count, bucket) => clamps.set(le(4, bucket), le(8, count)));

  // syscalls_total is found by name: wait until the maps of earlier tests by that name are freed
  // (the kernel frees a map some time after its program and pins go).
  for (let i = 0; i < 100 && BpfMap.list().filter((info) => info.name === 'syscalls_total').length > 1; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const source = readFileSync(path.join(repoRoot, 'test/serve/fixtures/ebpf-exporter.yaml'), 'utf8').replaceAll('${MAPS}', maps);
  const exporter = new MapExporter({ config: parseMetricsConfig(source), programStats: false });
  const text = await exporter.text('text');
  const families = parseExposition(text);

  // syscalls.yaml: uint then syscall names the number; unknown numbers say so.
  assert.match(text, /^# TYPE ebpf_exporter_syscalls_total counter$/m);
  assert.equal(sampleValue(families, 'ebpf_exporter_syscalls_total', { syscall: process.arch === 'arm64' ? 'io_setup' : 'read' }), 10);
  assert.equal(sampleValue(families, 'ebpf_exporter_syscalls_total', { syscall: process.arch === 'arm64' ? 'io_destroy' : 'write' }), 20);
  assert.equal(sampleValue(families, 'ebpf_exporter_syscalls_total', { syscall: 'unknown_syscall:99999' }), 5);

  // regexp: first group or whole match; a miss drops the label set; equal label sets are summed.
  assert.equal(sampleValue(families, 'ebpf_exporter_comm_events_total', { comm: 'nginx', kind: 'open', addr: '10.0.0.1' }), 3);
  assert.equal(sampleValue(families, 'ebpf_exporter_comm_events_total', { comm: 'curl', kind: 'close', addr: '192.168.1.2' }), 4);
  assert.equal(sampleValue(families, 'ebpf_exporter_comm_events_total', { comm: 'kworker', kind: 'open', addr: '1.2.3.4' }), 11);
  assert.equal(sampleValue(families, 'ebpf_exporter_comm_events_total', { comm: 'sshd', kind: 'unknown:3', addr: '1.2.3.4' }), 8);
  const comms = families.find((family) => family.name === 'ebpf_exporter_comm_events_total');
  assert.equal(comms?.samples.length, 4, 'bash matches no regexp: dropped');

  // exp2 with a multiplier: le = 2^bucket * 1e-6, cumulative, missing buckets backfilled, sum from bucket 6.
  const read = { device: disk.name, operation: 'read' };
  const expected: Array<[string, number]> = [['1e-06', 2], ['2e-06', 5], ['4e-06', 5], ['8e-06', 6], ['1.6e-05', 6], ['3.2e-05', 6], ['+Inf', 6]];
  for (const [bound, count] of expected) assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_bucket', { ...read, le: bound }), count, `le=${bound}`);
  assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_count', read), 6);
  assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_sum', read), 1000 * 0.000001);
  const write = { device: disk.name, operation: 'write' };
  assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_bucket', { ...write, le: '2e-06' }), 0);
  assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_bucket', { ...write, le: '4e-06' }), 4);
  assert.equal(sampleValue(families, 'ebpf_exporter_bio_latency_seconds_sum', write), 0);

  // linear: le = bucket * 10 for buckets 0..5; bucket 6 is the sum (times the multiplier), bucket 7 is outside.
  [[0, 1], [10, 1], [20, 3], [30, 3], [40, 3], [50, 6]].forEach(([bound, count]) => {
    assert.equal(sampleValue(families, 'ebpf_exporter_window_clamps_bucket', { le: String(bound) }), count, `le=${bound}`);
  });
  assert.equal(sampleValue(families, 'ebpf_exporter_window_clamps_count', {}), 6);
  assert.equal(sampleValue(families, 'ebpf_exporter_window_clamps_sum', {}), 500);
});

test('configurations ebpf_exporter would reject, or with decoders bpfmap lacks, fail when they load', () => {
  const counter = (labels: string): string => `metrics:\n  counters:\n    - name: x_total\n      labels:\n${labels}`;
  const cases: Array<[string, RegExp]> = [
    [counter('        - name: stack\n          size: 8\n          decoders:\n            - name: kstack\n'), /'kstack' decoder is not supported by bpfmap; supported: uint, string/],
    [counter('        - name: a\n          size: 8\n          decoders:\n            - name: nosuch\n'), /unknown decoder 'nosuch'/],
    [counter('        - name: a\n          decoders:\n            - name: uint\n'), /labels\[0\]\.size: size is zero or not set/],
    [counter('        - name: a\n          size: 4\n'), /no decoders set/],
    [counter('        - name: a\n          size: 4\n          decoders:\n            - name: regexp\n'), /needs at least one expression/],
    ['metrics:\n  histograms:\n    - name: h\n      bucket_type: log\n      labels:\n        - name: bucket\n          size: 8\n          decoders:\n            - name: uint\n', /unknown histogram type 'log'/],
    ['metrics:\n  histograms:\n    - name: h\n      bucket_type: exp2\n      bucket_min: 3\n      bucket_max: 3\n      labels:\n        - name: bucket\n          size: 8\n          decoders:\n            - name: uint\n', /zero size/],
    ['metrics:\n  counters:\n    - name: x\n      perf_event_array: true\n', /perf event array counters are not supported/],
    ['metrics: [', /not valid YAML/],
  ];
  for (const [source, message] of cases) {
    assert.throws(() => parseMetricsConfig(source), (error: unknown) => error instanceof ConfigError && error.code === 'ERR_BPFMAP_CONFIG' && message.test(error.message), String(message));
  }
});

test('ksym, cgroup and hex decoders, and fixed and exp2zero histograms, over a u64-keyed map', needs('bpftool', 'clang'), async (t) => {
  const { maps, pin } = loadServeMaps(t, 'serve-cfg2');
  // A kernel symbol's address (and one byte into it), a cgroup id (its directory's inode), a small number.
  const lines = readFileSync('/proc/kallsyms', 'utf8').split('\n').map((line) => line.split(' ')).filter((parts) => parts.length >= 3);
  const perAddress = new Map<string, number>();
  for (const [hex] of lines) perAddress.set(hex as string, (perAddress.get(hex as string) ?? 0) + 1);
  // A text symbol alone at its address (several symbols at one address would make the name ambiguous).
  const symbols = lines.filter((parts) => /^[tT]$/.test(parts[1] as string) && !/^0+$/.test(parts[0] as string) && perAddress.get(parts[0] as string) === 1);
  const [addressHex, , symbol] = symbols[Math.floor(symbols.length / 2)] as string[];
  const address = BigInt(`0x${addressHex as string}`);
  const cgroupId = statSync('/sys/fs/cgroup').ino;
  assert.ok(![0, 2, 5, 6].includes(cgroupId), 'the cgroup id key does not collide with the bucket keys');
  using keyed = BpfMap.openPinned(pin('syscalls_total'));
  keyed.set(le(8, address + 1n), le(8, 4));
  keyed.set(le(8, cgroupId), le(8, 9));
  keyed.set(le(8, 0), le(8, 2));
  keyed.set(le(8, 2), le(8, 3));
  keyed.set(le(8, 5), le(8, 1));
  keyed.set(le(8, 6), le(8, 100));
  const config = parseMetricsConfig([
    'metrics:',
    '  counters:',
    '    - name: by_symbol_total',
    `      map: pinned ${maps}/syscalls_total`,
    '      labels:',
    '        - { name: function, size: 8, decoders: [{ name: ksym }] }',
    '    - name: by_cgroup_total',
    `      map: pinned ${maps}/syscalls_total`,
    '      labels:',
    '        - { name: cgroup, size: 8, decoders: [{ name: uint }, { name: cgroup }] }',
    '    - name: by_hex_total',
    `      map: pinned ${maps}/syscalls_total`,
    '      labels:',
    '        - { name: raw, size: 8, decoders: [{ name: hex }] }',
    '  histograms:',
    '    - name: fixed_hist',
    `      map: pinned ${maps}/syscalls_total`,
    '      bucket_type: fixed',
    '      bucket_keys: [0, 2, 5]',
    '      bucket_multiplier: 2',
    '      labels:',
    '        - { name: bucket, size: 8, decoders: [{ name: uint }] }',
    '    - name: zero_hist',
    `      map: pinned ${maps}/syscalls_total`,
    '      bucket_type: exp2zero',
    '      bucket_min: 0',
    '      bucket_max: 3',
    '      labels:',
    '        - { name: bucket, size: 8, decoders: [{ name: uint }] }',
    '',
  ].join('\n'));
  const families = parseExposition(await new MapExporter({ config, programStats: false }).text('text'));
  assert.equal(sampleValue(families, 'ebpf_exporter_by_symbol_total', { function: symbol as string }), 4, `ksym of ${symbol}+1`);
  // The id names a directory under /sys/fs/cgroup with that inode (on cgroup v1 hosts several may share it).
  const byCgroup = families.find((family) => family.name === 'ebpf_exporter_by_cgroup_total')?.samples.find((sample) => sample.value === 9);
  const cgroupPath = byCgroup?.labels.cgroup ?? '';
  assert.ok(cgroupPath.startsWith('/sys/fs/cgroup') && statSync(cgroupPath).ino === cgroupId, `cgroup label '${cgroupPath}' has inode ${cgroupId}`);
  assert.equal(sampleValue(families, 'ebpf_exporter_by_hex_total', { raw: '0200000000000000' }), 3);
  // Bucket counts by key as written (the cgroup id is a small number on some hosts and lands in a bucket too).
  const counts = new Map<bigint, number>([[address + 1n, 4], [BigInt(cgroupId), 9], [0n, 2], [2n, 3], [5n, 1], [6n, 100]]);
  const at = (bucket: number): number => counts.get(BigInt(bucket)) ?? 0;
  // fixed: keys 0, 2, 5 with bounds key x 2, cumulative; the key after the last (6) is the sum, x 2.
  let cumulative = 0;
  for (const key of [0, 2, 5]) {
    cumulative += at(key);
    assert.equal(sampleValue(families, 'ebpf_exporter_fixed_hist_bucket', { le: String(key * 2) }), cumulative, `fixed le=${key * 2}`);
  }
  assert.equal(sampleValue(families, 'ebpf_exporter_fixed_hist_bucket', { le: '+Inf' }), cumulative);
  assert.equal(sampleValue(families, 'ebpf_exporter_fixed_hist_sum', {}), at(6) * 2);
  // exp2zero: bucket 0 is le=0, bucket b is le=2^(b-1); buckets 0..3.
  cumulative = 0;
  for (const bucket of [0, 1, 2, 3]) {
    cumulative += at(bucket);
    const bound = bucket === 0 ? 0 : 2 ** (bucket - 1);
    assert.equal(sampleValue(families, 'ebpf_exporter_zero_hist_bucket', { le: String(bound) }), cumulative, `exp2zero le=${bound}`);
  }
});

test("ebpf_exporter's self-metrics: enabled_configs, ebpf_program_info of the programs using the config's maps, decoder_errors_total", needs('bpftool', 'clang'), async (t) => {
  const { pin, dir } = loadServeMaps(t, 'serve-cfg-self');
  using syscalls = BpfMap.openPinned(pin('syscalls_total'));
  syscalls.set(le(8, 0), le(8, 7));
  using hists = BpfMap.openPinned(pin('hists'));
  hists.set(le(4, 1), new Uint8Array(hists.valueSize));
  // A configuration file named like ebpf_exporter's configs: the file name is the config's name.
  const file = path.join(tempDir(t, 'serve-cfg-self'), 'latency-probes.yaml');
  writeFileSync(file, `metrics:
  counters:
    - name: syscalls_total
      help: Syscalls by number
      map: pinned ${pin('syscalls_total')}
      labels:
        - name: nr
          size: 8
          decoders:
            - name: uint
    - name: not_u64
      help: A map whose values are not u64, which ebpf_exporter cannot decode
      map: pinned ${pin('hists')}
      labels:
        - name: key
          size: 4
          decoders:
            - name: uint
`);
  const exporter = new MapExporter({ config: file, programStats: false });
  let families = parseExposition(await exporter.text('text'));
  assert.equal(sampleValue(families, 'ebpf_exporter_syscalls_total', { nr: '0' }), 7, 'the good metric is still written');
  assert.equal(sampleValue(families, 'ebpf_exporter_enabled_configs', { name: 'latency-probes' }), 1);
  assert.equal(families.find((family) => family.name === 'ebpf_exporter_decoder_errors_total')?.type, 'counter');
  assert.equal(sampleValue(families, 'ebpf_exporter_decoder_errors_total', { config: 'latency-probes' }), 1, 'one metric failed in this collection');

  // The program that uses the config's maps (serve_prog uses hists), with bpftool's id and tag.
  const progs = bpftoolJson<Array<{ id: number; name: string; tag: string }>>('prog', 'show', 'pinned', path.join(dir, 'progs', 'serve_prog'));
  const prog = Array.isArray(progs) ? progs[0] : (progs as unknown as { id: number; name: string; tag: string });
  assert.ok(prog);
  const infos = families.find((family) => family.name === 'ebpf_exporter_ebpf_program_info')?.samples ?? [];
  assert.deepEqual(infos.map((sample) => [sample.labels, sample.value]), [[{ config: 'latency-probes', program: prog.name, tag: prog.tag, id: String(prog.id) }, 1]]);

  // A counter since start: each collection with the failing metric adds one.
  families = parseExposition(await exporter.text('text'));
  assert.equal(sampleValue(families, 'ebpf_exporter_decoder_errors_total', { config: 'latency-probes' }), 2);

  // Without a configuration, none of them is written.
  const plain = await new MapExporter({ maps: [{ kind: 'pinned', path: pin('hists') }], programStats: false }).text('text');
  assert.doesNotMatch(plain, /ebpf_exporter_/);
});
