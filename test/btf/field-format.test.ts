/**
 * Field formats in the library: maps of test/fixtures/net_format.bpf.c (__be32/__be16 fields,
 * struct in6_addr keys, 16-byte address slots beside a family field) filled with random
 * addresses and ports show them as Node's `net` module writes the same addresses; without
 * formats the output stays bpftool's; bad rules are typed errors that name the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { SocketAddress } from 'node:net';
import path from 'node:path';
import { buildBpfObject, bpftoolJson, loadBpfObject, needs, pinDir } from '../helpers.js';
import { BpfMap, btfValueFormatter, formatBtfValue, formatEntry, formatToJson, ipv6Text, parseFieldFormats } from '../../src/index.js';
import { btfFromId } from '../../src/codec/btf/sources.js';

/** The address Node's net module writes for 4 or 16 bytes in network order (inet_ntop underneath). */
function nodeAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return new SocketAddress({ address: Array.from(bytes).join('.'), family: 'ipv4' }).address;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** Random IPv6 addresses, most with runs of zero groups, some IPv4-mapped or IPv4-compatible. */
function randomIpv6(): Uint8Array {
  const bytes = new Uint8Array(randomBytes(16));
  const shape = randomInt(6);
  if (shape === 1) bytes.fill(0, 0, 12).set([0xff, 0xff], 10);
  else if (shape === 2) bytes.fill(0, 0, 12);
  else if (shape >= 3) {
    const from = randomInt(8) * 2;
    bytes.fill(0, from, Math.min(16, from + randomInt(1, 8) * 2));
  }
  return bytes;
}

function be16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

function mapsOf(t: import('node:test').TestContext): string {
  return loadBpfObject(buildBpfObject('net_format'), pinDir(t, 'field-format')).maps;
}

test('ipv6Text writes what Node writes for the same bytes, zero runs and IPv4 tails included', () => {
  const cases: Uint8Array[] = [new Uint8Array(16), Uint8Array.from([...new Array(15).fill(0), 1]), Uint8Array.from([0xfe, 0x80, ...new Array(13).fill(0), 1])];
  for (let i = 0; i < 2000; i++) cases.push(randomIpv6());
  for (const bytes of cases) assert.equal(ipv6Text(bytes), nodeAddress(bytes), Buffer.from(bytes).toString('hex'));
});

test('flows keyed by __be32/__be16 show addresses and ports with --net rules, and stay bpftool-exact without', needs('bpftool', 'clang'), (t) => {
  using flows = BpfMap.openPinned(path.join(mapsOf(t), 'flows4'));
  const written: Array<{ saddr: Uint8Array; daddr: Uint8Array; sport: number; dport: number }> = [];
  for (let i = 0; i < 32; i++) {
    const entry = { saddr: randomBytes(4), daddr: randomBytes(4), sport: randomInt(65536), dport: randomInt(65536) };
    written.push(entry);
    flows.set(Uint8Array.from([...entry.saddr, ...entry.daddr, ...be16(entry.sport), ...be16(entry.dport), 6, 0, 0, 0]), Uint8Array.of(i, 0, 0, 0, 0, 0, 0, 0));
  }
  const bpftoolEntries = bpftoolJson<Array<{ key: string[]; formatted: unknown }>>('map', 'dump', 'id', String(flows.id));
  let seen = 0;
  for (const [key, value] of flows) {
    const plain = formatEntry(flows, key, value);
    // Without rules, the formatted entry is bpftool's.
    const theirs = bpftoolEntries.find((entry) => entry.key.every((byte, i) => Number(byte) === key[i]));
    assert.deepEqual(JSON.parse(formatToJson(plain!)), theirs?.formatted);
    const ours = written[value[0] as number]!;
    const shown = formatEntry(flows, key, value, { net: true }) as { key: Record<string, unknown> };
    assert.deepEqual(shown.key, { saddr: nodeAddress(ours.saddr), daddr: nodeAddress(ours.daddr), sport: ours.sport, dport: ours.dport, proto: 6, pad: [0, 0, 0] });
    // The same by field paths, in the text form the CLI takes.
    const byPath = formatEntry(flows, key, value, { fields: parseFieldFormats('key.saddr=ipv4, daddr=ip,sport=port,dport=be') }) as { key: unknown };
    assert.deepEqual(byPath.key, shown.key);
    seen++;
  }
  assert.equal(seen, written.length);
});

test('16-byte address slots follow the family field beside or above them', needs('bpftool', 'clang'), (t) => {
  const maps = mapsOf(t);
  using conns = BpfMap.openPinned(path.join(maps, 'conns'));
  const btf = btfFromId(conns.info.btfId).btf;
  const show = btfValueFormatter(btf, conns.info.btfValueTypeId, { fields: { saddr: 'ip', daddr: 'ip', mac: 'mac', dport: 'port' } });
  for (let i = 0; i < 64; i++) {
    const v6 = i % 2 === 0;
    const saddr = v6 ? randomIpv6() : randomBytes(4);
    const daddr = v6 ? randomIpv6() : randomBytes(4);
    const mac = randomBytes(6);
    const dport = randomInt(65536);
    const value = new Uint8Array(56);
    const view = new DataView(value.buffer);
    view.setUint16(0, v6 ? 10 : 2, true);
    view.setUint16(2, 4242, true);
    value.set(saddr, 4);
    value.set(daddr, 20);
    value.set(mac, 36);
    view.setUint16(42, dport, false);
    // Bytes past an IPv4 address in its slot are not part of it.
    if (!v6) value.set(randomBytes(12), 8);
    conns.set(Uint8Array.of(i, 0, 0, 0), value);
    const got = conns.get(Uint8Array.of(i, 0, 0, 0))!;
    assert.deepEqual(show(got), {
      family: v6 ? 10 : 2, lport: 4242, saddr: nodeAddress(saddr), daddr: nodeAddress(daddr),
      mac: Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join(':'), dport, packets: 0n,
    });
  }
  // tcpconnect's shape: `int af` one struct above the address.
  using peers = BpfMap.openPinned(path.join(maps, 'peers'));
  const key = randomIpv6();
  for (const [af, address] of [[2, randomBytes(4)], [10, randomIpv6()]] as const) {
    const value = new Uint8Array(24);
    new DataView(value.buffer).setInt32(0, af, true);
    value.set(address, 4);
    value.set(be16(8080), 20);
    peers.set(key, value);
    const entry = formatEntry(peers, key, peers.get(key)!, { fields: { key: 'ipv6', addr: 'ip' }, net: true });
    assert.deepEqual(entry, { key: nodeAddress(key), value: { af, remote: { addr: nodeAddress(address), port: 8080 } } });
  }
});

test('a rule that fits no field is a typed error naming the field and the formats that fit', needs('bpftool', 'clang'), (t) => {
  using conns = BpfMap.openPinned(path.join(mapsOf(t), 'conns'));
  const btf = btfFromId(conns.info.btfId).btf;
  const id = conns.info.btfValueTypeId;
  const bytes = new Uint8Array(56);
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ lport: 'ipv6' }, /lport=ipv6: field 'lport' has 2 bytes \(__u16\); ipv6 reads 16; formats for 2 bytes: port, be, hex, family/],
    [{ saddr: 'ipx' }, /saddr: unknown format 'ipx'; the formats are ipv4, ipv6, ip, port, be, mac, hex, family/],
    [{ sadr: 'ip' }, /sadr=ip: no field 'sadr' and no type of that name; the fields are family, lport, saddr, daddr, mac, dport, packets/],
    [{ __be32: 'ipv4' }, /__be32=ipv4: no field is of type __be32/],
    [{ 'saddr.': 'ip' }, /'saddr\.' is not a field path/],
  ];
  for (const [fields, message] of cases) {
    assert.throws(() => formatBtfValue(btf, id, bytes, 0, { fields: fields as never }), (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError);
      assert.equal(error.code, 'ERR_BPFMAP_FIELD_FORMAT');
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => parseFieldFormats('saddr'), { code: 'ERR_BPFMAP_FIELD_FORMAT', message: /'saddr' is not FIELD=FORMAT/ });
  assert.throws(() => parseFieldFormats(' , '), { code: 'ERR_BPFMAP_FIELD_FORMAT', message: /no rules/ });
});
