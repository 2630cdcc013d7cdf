/**
 * struct_ops against the real kernel: a TCP congestion control written for the test
 * (test/fixtures/struct_ops_ca.bpf.c) is loaded, registered through a link, and used by a TCP
 * connection over the loopback of a network namespace the test creates; its programs count their
 * calls. Both sockets select it with setsockopt(TCP_CONGESTION) (test/fixtures/ca_traffic.c): a
 * namespace's default may only be one of the host's allowed list, which a test must not change.
 * Closing the link unregisters it. The same programs in a `.struct_ops` map register by a map
 * update and unregister when the registration closes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BpfError, BpfObject, BpfMap, Link, ObjectError, StructOpsRegistration, attachStructOps, layoutStructOps, updateStructOps } from '../../src/index.js';
import { fixturesDir, needs, tempDir } from '../helpers.js';
import { buildCoreObject } from './core-fixture.js';

const PORT = 19350;

function netns(t: TestContext, label: string): string {
  const name = `bpfmap-loader2-${process.pid}-${label}`;
  execFileSync('ip', ['netns', 'add', name]);
  t.after(() => execFileSync('ip', ['netns', 'delete', name]));
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

function inNetns(name: string, ...command: string[]): string {
  return execFileSync('ip', ['netns', 'exec', name, ...command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function available(name: string): string[] {
  return inNetns(name, 'cat', '/proc/sys/net/ipv4/tcp_available_congestion_control').trim().split(/\s+/);
}

/** Builds test/fixtures/ca_traffic.c (one TCP connection with a chosen congestion control). */
function buildTraffic(t: TestContext): string {
  const output = path.join(tempDir(t, 'bpfmap-ca'), 'ca_traffic');
  execFileSync('cc', ['-O1', '-o', output, path.join(fixturesDir, 'ca_traffic.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return output;
}

/** Sends `bytes` over one loopback connection in the namespace whose sockets use congestion control `ca`. */
function sendOverLoopback(binary: string, name: string, ca: string, bytes: number): { client: string; server: string; received: number } {
  const lines = inNetns(name, binary, ca, String(PORT), String(bytes)).trim().split('\n');
  const field = (key: string): string => lines.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1) ?? '';
  return { client: field('client'), server: field('server'), received: Number(field('received')) };
}

function calls(map: BpfMap<unknown, unknown>): bigint[] {
  return [0, 1, 2, 3].map((i) => map.get(i) as bigint);
}

test('a struct_ops TCP congestion control registers through a link, carries a connection, and unregisters on close', needs('clang', 'bpftool', 'ip', 'cc'), (t) => {
  const spec = BpfObject.open(buildCoreObject('struct_ops_ca'));
  const caName = `bpfmap_${process.pid % 10_000_000}`;
  const ops = spec.map('ca_ops');
  assert.equal(ops.typeName, 'struct_ops');
  assert.ok(ops.structOps);
  assert.equal(ops.structOps.typeName, 'tcp_congestion_ops');
  assert.equal(ops.structOps.link, true);
  assert.deepEqual([...ops.structOps.programs], [['ssthresh', 'ca_ssthresh'], ['cong_avoid', 'ca_cong_avoid'], ['undo_cwnd', 'ca_undo_cwnd'], ['init', 'ca_init']]);
  assert.equal(ops.structOps.field('name'), 'bpfmap_ca');
  ops.structOps.setField('name', caName);
  spec.map('ca_legacy').structOps?.setField('name', `${caName}l`);
  assert.throws(() => ops.structOps?.setField('no_such_member', 1), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_NAME');
  assert.throws(() => ops.structOps?.setField('init', 1), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_VALUE');

  const object = spec.load();
  t.after(() => object.close());
  // Each program is loaded for its member: attach_btf_id = struct tcp_congestion_ops, expected attach type = member index.
  const layout = layoutStructOps(ops.structOps, spec.btf as NonNullable<typeof spec.btf>);
  for (const slot of layout.slots) {
    const program = object.program(slot.program);
    assert.equal(program.typeName, 'struct_ops');
    assert.equal(program.attachBtfId, layout.kernelTypeId);
    assert.equal(program.attachType, slot.memberIndex);
  }
  const map = object.map('ca_ops');
  assert.equal(map.info.btfVmlinuxValueTypeId, layout.valueTypeId);
  assert.equal(map.info.valueSize, layout.value.length);

  const traffic = buildTraffic(t);
  const ns = netns(t, 'ca');
  assert.ok(!available(ns).includes(caName));
  const link = attachStructOps(object, 'ca_ops');
  t.after(() => link.close());
  assert.ok(link instanceof Link);
  assert.equal(link.info().typeName, 'struct_ops');
  assert.equal(link.info().mapId, map.info.id, 'the link holds the struct_ops map');
  assert.ok(available(ns).includes(caName), 'registered: listed as available');

  const counts = object.map('ca_calls');
  const before = calls(counts);
  const sent = sendOverLoopback(traffic, ns, caName, 4 << 20);
  assert.deepEqual(sent, { client: caName, server: caName, received: 4 << 20 }, 'both sockets used it, and every byte arrived');
  const after = calls(counts);
  // init runs for both ends of the connection; cong_avoid on the sender's acks.
  assert.ok((after[0] ?? 0n) - (before[0] ?? 0n) >= 2n, `init called for both sockets: ${after.join(',')}`);
  assert.ok((after[2] ?? 0n) > (before[2] ?? 0n), `cong_avoid called: ${after.join(',')}`);

  const linkId = link.info().id;
  link.close();
  assert.ok(!available(ns).includes(caName), 'unregistered after the link closed');
  assert.ok(![...Link.ids()].includes(linkId));

  // The .struct_ops map: registered by writing its value, unregistered by deleting it.
  const registration = attachStructOps(object, 'ca_legacy');
  t.after(() => registration.close());
  assert.ok(registration instanceof StructOpsRegistration);
  assert.ok(available(ns).includes(`${caName}l`));
  registration.close();
  assert.ok(!available(ns).includes(`${caName}l`));

  assert.throws(() => attachStructOps(object, 'ca_calls'), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_NAME' && /ca_legacy, ca_ops/.test(e.message));
});

test('a struct_ops link updated to another .struct_ops.link map (BPF_LINK_UPDATE): new connections get the new ops, under the same name', needs('clang', 'bpftool', 'ip', 'cc'), (t) => {
  const spec = BpfObject.open(buildCoreObject('struct_ops_update'));
  const caName = `bpfmap_u${process.pid % 10_000_000}`;
  spec.map('ca_first').structOps?.setField('name', caName);
  spec.map('ca_second').structOps?.setField('name', caName);
  spec.map('ca_plain').structOps?.setField('name', `${caName}p`);
  const object = spec.load();
  t.after(() => object.close());
  const traffic = buildTraffic(t);
  const ns = netns(t, 'upd');
  const inits = object.map('ca_inits');
  const initCounts = (): bigint[] => [0, 1].map((i) => inits.get(i) as bigint);

  const link = attachStructOps(object, 'ca_first');
  t.after(() => link.close());
  assert.ok(link instanceof Link);
  assert.equal(sendOverLoopback(traffic, ns, caName, 1 << 20).received, 1 << 20);
  const first = initCounts();
  assert.ok((first[0] ?? 0n) >= 2n && first[1] === 0n, `the first version's init ran for both sockets: ${first.join(',')}`);

  const secondMap = object.map('ca_second');
  const firstMap = object.map('ca_first');
  // BPF_F_REPLACE naming a map the link does not hold: refused, nothing changes.
  assert.throws(() => updateStructOps(link, object, 'ca_second', { replace: secondMap }), (e: unknown) => e instanceof BpfError && e.code === 'EPERM');
  updateStructOps(link, object, 'ca_second', { replace: firstMap });
  assert.equal(link.info().mapId, secondMap.info.id, 'the link holds the second map now');
  assert.ok(available(ns).includes(caName), 'still registered under its name');
  const sent = sendOverLoopback(traffic, ns, caName, 1 << 20);
  assert.deepEqual(sent, { client: caName, server: caName, received: 1 << 20 });
  const second = initCounts();
  assert.equal(second[0], first[0], 'the first version ran no more');
  assert.ok((second[1] ?? 0n) >= 2n, `the second version's init ran for both new sockets: ${second.join(',')}`);

  // And back, without BPF_F_REPLACE.
  updateStructOps(link, object, 'ca_first');
  assert.equal(link.info().mapId, firstMap.info.id);
  assert.throws(() => updateStructOps(link, object, 'ca_plain'), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_STATE' && /struct_ops\.link/.test(e.message));
  assert.throws(() => updateStructOps(link, object, 'nope'), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_NAME');
  link.close();
  assert.ok(!available(ns).includes(caName), 'unregistered after the link closed');
});
