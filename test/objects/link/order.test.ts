/**
 * Attach order and the pre-link attach path, read back with BPF_PROG_QUERY
 * (test/fixtures/attach_order.bpf.c): tcx links and BPF_PROG_ATTACH attachments placed before and
 * after other programs and links by handle and by id, on a veth the test creates;
 * cgroup programs attached with BPF_PROG_ATTACH (multi, replace, detach) and as links with
 * anchors, on a cgroup the test creates. Every query must give the order the anchors asked for.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BpfAttachError, BpfObject, ProgramAttachment, attachCgroup, attachProgramLegacy, attachTcx, queryPrograms } from '../../../src/index.js';
import { buildBpfObject, needs } from '../../helpers.js';

/** One end of a veth pair the test creates (its peer in a namespace of the test's own). */
function testInterface(t: TestContext): string {
  const tag = `${process.pid % 100000}${Math.random().toString(36).slice(2, 5)}`;
  const name = `l2o${tag}`.slice(0, 15);
  const netns = `bpfmap-loader2-${process.pid}-${tag}`;
  execFileSync('ip', ['netns', 'add', netns]);
  t.after(() => execFileSync('ip', ['netns', 'delete', netns]));
  execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `l2p${tag}`.slice(0, 15), 'netns', netns]);
  t.after(() => {
    try {
      execFileSync('ip', ['link', 'delete', name], { stdio: 'ignore' });
    } catch {
      // gone with the namespace already
    }
  });
  return name;
}

function cgroupDir(t: TestContext): string {
  const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  assert.ok(line, 'cgroup v2 must be mounted');
  const dir = path.join(line.split(' ')[1] ?? '', `bpfmap-loader2-${process.pid}-${Math.random().toString(36).slice(2, 6)}`);
  mkdirSync(dir);
  // Children first (hooks run in the order they were added, so one hook does both).
  t.after(() => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) rmdirSync(path.join(dir, entry.name));
    rmdirSync(dir);
  });
  return dir;
}

test('tcx: links and BPF_PROG_ATTACH attachments go where before/after put them, by handle or id', needs('clang', 'ip'), (t) => {
  const object = BpfObject.load(buildBpfObject('attach_order'));
  t.after(() => object.close());
  const [a, b, c] = ['tc_a', 'tc_b', 'tc_c'].map((name) => object.program(name));
  assert.ok(a && b && c);
  const iface = testInterface(t);
  const order = () => queryPrograms({ interface: iface, attachType: 'tcx_ingress' });

  const la = attachTcx(a, { interface: iface });
  t.after(() => la.close());
  const lb = attachTcx(b, { interface: iface, before: la });
  t.after(() => lb.close());
  const { revision } = order();
  const lc = attachTcx(c, { interface: iface, after: { programId: a.id }, expectedRevision: revision });
  t.after(() => lc.close());
  let query = order();
  assert.deepEqual(query.programs.map((p) => p.programId), [b.id, a.id, c.id]);
  assert.deepEqual(query.programs.map((p) => p.linkId), [lb.info().id, la.info().id, lc.info().id]);
  assert.ok(query.revision > revision);

  lc.close();
  // A stale revision is refused, and so is an anchor that is not attached here; nothing changes.
  assert.throws(() => attachTcx(c, { interface: iface, before: 'all', expectedRevision: revision }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ESTALE');
  assert.throws(() => attachTcx(c, { interface: iface, before: { programId: c.id } }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ENOENT');
  assert.deepEqual(order().programs.map((p) => p.programId), [b.id, a.id]);

  // BPF_PROG_ATTACH, first of all, then after a link by id: no link holds these.
  const first = attachProgramLegacy(c, { interface: iface, attachType: 'tcx_ingress', before: 'all' });
  t.after(() => first.close());
  assert.ok(first instanceof ProgramAttachment);
  query = order();
  assert.deepEqual(query.programs.map((p) => p.programId), [c.id, b.id, a.id]);
  assert.deepEqual(query.programs.map((p) => p.linkId), [0, lb.info().id, la.info().id]);
  first.close();
  assert.deepEqual(order().programs.map((p) => p.programId), [b.id, a.id]);
  const middle = attachProgramLegacy(c, { interface: iface, attachType: 'tcx_ingress', after: { linkId: lb.info().id } });
  t.after(() => middle.close());
  assert.deepEqual(order().programs.map((p) => p.programId), [b.id, c.id, a.id]);
  middle.close();
  la.close();
  lb.close();
  assert.deepEqual(order().programs, []);
  assert.throws(() => attachTcx(a, { interface: iface, before: la, after: lb }), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_BPFMAP_OPTIONS');
});

test('cgroups: BPF_PROG_ATTACH multi, replace and detach, and links ordered by anchors', needs('clang'), (t) => {
  const object = BpfObject.load(buildBpfObject('attach_order'));
  t.after(() => object.close());
  const [a, b, c] = ['cg_a', 'cg_b', 'cg_c'].map((name) => object.program(name));
  assert.ok(a && b && c);
  const cgroup = cgroupDir(t);
  const order = () => queryPrograms({ cgroup, attachType: 'cgroup_inet_ingress' }).programs.map((p) => p.programId);

  // The legacy path: ALLOW_MULTI appends; REPLACE swaps one program in place; detach removes.
  const attachedA = attachProgramLegacy(a, { cgroup });
  t.after(() => attachedA.close());
  const attachedB = attachProgramLegacy(b, { cgroup });
  t.after(() => attachedB.close());
  assert.deepEqual(order(), [a.id, b.id]);
  assert.equal(queryPrograms({ cgroup, attachType: 'cgroup_inet_ingress' }).attachFlags, 2, 'ALLOW_MULTI');
  const attachedC = attachProgramLegacy(c, { cgroup, replace: a });
  t.after(() => attachedC.close());
  assert.deepEqual(order(), [c.id, b.id]);
  assert.throws(() => attachProgramLegacy(b, { cgroup }), (e: unknown) => e instanceof BpfAttachError && ['EEXIST', 'EINVAL'].includes(e.code), 'attached twice');
  assert.deepEqual(order(), [c.id, b.id], 'the refusal changed nothing');
  attachedC.close();
  attachedB.close();
  assert.deepEqual(order(), []);
  // The parent's programs are inherited: an effective query of a child sees them.
  const child = path.join(cgroup, 'child');
  mkdirSync(child);
  const inherited = attachProgramLegacy(a, { cgroup });
  t.after(() => inherited.close());
  assert.deepEqual(queryPrograms({ cgroup: child, attachType: 'cgroup_inet_ingress', effective: true }).programs.map((p) => p.programId), [a.id]);
  assert.deepEqual(queryPrograms({ cgroup: child, attachType: 'cgroup_inet_ingress' }).programs, []);
  inherited.close();

  // Anchors (cgroup mprog, Linux 6.16+). On cgroups a link is placed relative to links, a
  // BPF_PROG_ATTACH program relative to such programs; 'all' places either first or last.
  const la = attachCgroup(a, { cgroup });
  t.after(() => la.close());
  const lb = attachCgroup(b, { cgroup, before: la });
  t.after(() => lb.close());
  assert.deepEqual(order(), [b.id, a.id]);
  const lc = attachCgroup(c, { cgroup, after: { linkId: lb.info().id } });
  t.after(() => lc.close());
  assert.deepEqual(order(), [b.id, c.id, a.id]);
  assert.throws(() => attachProgramLegacy(c, { cgroup, before: la }), (e: unknown) => e instanceof BpfAttachError && e.code === 'EINVAL', 'a program attached without a link cannot anchor to a link');
  lc.close();
  const first = attachCgroup(c, { cgroup, before: 'all' });
  t.after(() => first.close());
  assert.deepEqual(order(), [c.id, b.id, a.id]);
  for (const link of [la, lb, first]) link.close();
  const legacyA = attachProgramLegacy(a, { cgroup });
  t.after(() => legacyA.close());
  const legacyB = attachProgramLegacy(b, { cgroup, before: a });
  t.after(() => legacyB.close());
  const legacyC = attachProgramLegacy(c, { cgroup, after: { programId: b.id } });
  t.after(() => legacyC.close());
  assert.deepEqual(order(), [b.id, c.id, a.id]);
  for (const attachment of [legacyA, legacyB, legacyC]) attachment.close();
  assert.deepEqual(order(), []);
});
