/**
 * `--format` and `--net` in the CLI, on the maps of test/fixtures/net_format.bpf.c: dump,
 * lookup and watch show the addresses and ports the test wrote (addresses as strings, ports as
 * numbers), only where asked; without the options `-j dump` stays bpftool's to the byte; a bad
 * rule is a usage error (status 2) that names the field and the formats there are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, buildBpfObject, loadBpfObject, needs, pinDir } from '../helpers.js';
import { runCli, startCli } from './run-cli.js';

/** flows4 key: 192.0.2.10:19300 -> 198.51.100.7:443, proto 6, in network byte order. */
const FLOW_KEY = Uint8Array.from([192, 0, 2, 10, 198, 51, 100, 7, 0x4b, 0x64, 0x01, 0xbb, 6, 0, 0, 0]);
const FLOW_SHOWN = { saddr: '192.0.2.10', daddr: '198.51.100.7', sport: 19300, dport: 443, proto: 6, pad: [0, 0, 0] };

function fixture(t: import('node:test').TestContext): { flows4: string; conns: string } {
  const { maps } = loadBpfObject(buildBpfObject('net_format'), pinDir(t, 'cli-net-format'));
  const flows4 = path.join(maps, 'flows4');
  const conns = path.join(maps, 'conns');
  using flows = BpfMap.openPinned(flows4);
  flows.set(FLOW_KEY, Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 0));
  using connMap = BpfMap.openPinned(conns);
  // family AF_INET6, lport 8080, saddr 2001:db8::1, daddr ::ffff:192.0.2.1, mac, dport 443 (be), packets 9.
  const value = new Uint8Array(56);
  value.set([10, 0, 0x90, 0x1f]);
  value.set([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], 4);
  value.set([...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1], 20);
  value.set([2, 0, 0, 0xab, 0xcd, 0xef, 0x01, 0xbb], 36);
  value[48] = 9; // packets: u64 at 48, after 4 bytes of padding
  connMap.set(Uint8Array.of(1, 0, 0, 0), value);
  return { flows4, conns };
}

test('dump and lookup show addresses and ports where --format or --net asks, and bpftool\'s output otherwise', needs('bpftool', 'clang'), (t) => {
  const { flows4, conns } = fixture(t);
  // Without the options: bpftool's JSON to the byte.
  const plain = runCli('-j', 'dump', 'pinned', flows4);
  assert.equal(plain.stdout.trim(), bpftool('-j', 'map', 'dump', 'pinned', flows4).trim());

  const net = JSON.parse(runCli('-j', 'dump', 'pinned', flows4, '--net').stdout) as Array<{ key: string[]; formatted: { key: unknown; value: unknown } }>;
  assert.deepEqual(net[0]?.formatted, { key: FLOW_SHOWN, value: 3 });
  // Raw bytes stay what bpftool prints.
  assert.deepEqual(net[0]?.key, JSON.parse(plain.stdout)[0].key);
  const byPath = JSON.parse(runCli('-j', 'dump', 'pinned', flows4, '--format', 'key.saddr=ipv4,daddr=ip,sport=port,dport=port').stdout) as typeof net;
  assert.deepEqual(byPath[0]?.formatted.key, FLOW_SHOWN);
  // Only the named fields change.
  const one = JSON.parse(runCli('-j', 'dump', 'pinned', flows4, '--format', 'dport=port').stdout) as typeof net;
  assert.deepEqual(one[0]?.formatted.key, { ...(JSON.parse(plain.stdout)[0].formatted.key as object), dport: 443 });

  const text = runCli('dump', 'pinned', conns, '--format', 'saddr=ip,daddr=ip,mac=mac,dport=port');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^\s*1\s+10\s+8080\s+2001:db8::1\s+::ffff:192\.0\.2\.1\s+02:00:00:ab:cd:ef\s+443\s+9$/m);

  const lookup = JSON.parse(runCli('-j', 'lookup', 'pinned', conns, 'key', '1', '0', '0', '0', '--format', 'saddr=ipv6,daddr=ipv6,mac=hex').stdout) as { formatted: { value: Record<string, unknown> } };
  assert.deepEqual(lookup.formatted.value, { family: 10, lport: 8080, saddr: '2001:db8::1', daddr: '::ffff:192.0.2.1', mac: '020000abcdef', dport: 47873, packets: 9 });
});

test('watch shows formatted fields without rate columns', needs('bpftool', 'clang'), async (t) => {
  const { conns } = fixture(t);
  const watcher = startCli('-j', 'watch', 'pinned', conns, '--interval', '0.1', '--format', 'saddr=ip,daddr=ip,dport=port');
  t.after(() => watcher.child.kill('SIGKILL'));
  const stdout = await watcher.waitForStdout((text) => text.trim().split('\n').length >= 2, 'two documents');
  watcher.child.kill('SIGINT');
  assert.equal((await watcher.exited).status, 0);
  const second = JSON.parse(stdout.trim().split('\n')[1]!) as { entries: Array<{ value: Record<string, unknown> }> };
  const row = second.entries[0]?.value ?? {};
  assert.equal(row.saddr, '2001:db8::1');
  assert.equal(row.daddr, '::ffff:192.0.2.1');
  assert.equal(row.dport, 443);
  assert.ok(!('dport/s' in row) && !('saddr/s' in row), JSON.stringify(row));
  assert.equal(row['packets/s'], 0);
});

test('bad --format rules are usage errors naming the field and the formats', needs('bpftool', 'clang'), (t) => {
  const { flows4, conns } = fixture(t);
  const cases: Array<[string[], RegExp]> = [
    [['dump', 'pinned', flows4, '--format', 'saddr=ipv6'], /saddr=ipv6: field 'key\.saddr' has 4 bytes \(__be32\); ipv6 reads 16; formats for 4 bytes: ipv4, ip, be, hex, family/],
    [['dump', 'pinned', flows4, '--format', 'saddr=address'], /saddr: unknown format 'address'; the formats are ipv4, ipv6, ip, port, be, mac, hex, family/],
    [['lookup', 'pinned', conns, 'key', '1', '0', '0', '0', '--format', 'src=ip'], /src=ip: no field 'src' and no type of that name; the fields are key, value, value\.family, value\.lport, value\.saddr/],
    [['watch', 'pinned', conns, '--format', 'saddr'], /'saddr' is not FIELD=FORMAT/],
    [['events', 'pinned', conns, '--net'], /--format\/--net go with --type NAME/],
  ];
  for (const [args, message] of cases) {
    const result = runCli(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, message);
  }
  // A map without BTF has no fields.
  const raw = path.join(path.dirname(flows4), 'raw');
  bpftool('map', 'create', raw, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'netfmt_raw');
  const noBtf = runCli('-j', 'dump', 'pinned', raw, '--net');
  assert.equal(noBtf.status, 2);
  assert.match(noBtf.stdout, /has no BTF types, so it has no fields to format/);
});
