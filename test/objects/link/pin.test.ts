/**
 * Pinned links: a pin keeps the program attached after every handle is closed (as after the
 * process exits), `Link.fromPinned` opens it again, and removing the pin detaches it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { attachRawTracepoint, attachXdp, BpfError, Link } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, setU32, startChild, vethPair } from './helpers.js';

test('a pinned link survives its handle and detaches when the pin is removed', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('raw_sys_enter');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);
  const pin = path.join(fixture.dir, 'raw_link');

  const link = attachRawTracepoint(program, 'sys_enter');
  const id = link.id;
  link.pin(pin);
  assert.equal(link.pinnedPath, pin);
  link.close();
  assert.deepEqual(linksOfProgram(program.id).map((l) => l.id), [id], 'the pin keeps the link');
  await child.run('getpid 3');
  assert.equal(counter(counts, 1), 3n, 'still attached with no handle open');

  const reopened = Link.fromPinned(pin);
  assert.equal(reopened.id, id);
  assert.equal(reopened.kind, 'raw_tracepoint');
  assert.equal(reopened.target, 'sys_enter');
  assert.equal(reopened.info().programId, program.id);
  reopened.unpin();
  assert.equal(existsSync(pin), false);
  assert.equal(linksOfProgram(program.id).length, 1, 'the open handle still holds it');
  reopened.close();
  assert.deepEqual(linksOfProgram(program.id), [], 'unpinned and closed: detached');
  await child.run('getpid 2');
  assert.equal(counter(counts, 1), 3n);
});

test('Link.fromPinned and fromId: errors for missing pins, pins of other objects, unknown ids', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  assert.throws(() => Link.fromPinned(path.join(fixture.dir, 'nothing')), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  assert.throws(() => Link.fromPinned(path.join(fixture.dir, 'progs', 'raw_sys_enter')), (e: unknown) => e instanceof BpfError && e.code === 'ERR_BPFMAP_NOT_A_LINK');
  assert.throws(() => Link.fromId(0xfffffff0), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  const program = fixture.program('raw_sys_enter');
  using link = attachRawTracepoint(program, 'sys_enter');
  using again = Link.fromId(link.id);
  assert.equal(again.info().programId, program.id);
  assert.throws(() => link.pin(path.join(fixture.dir, 'progs', 'raw_sys_enter')), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST');
});

test('a closed link refuses use, and detach() leaves a pinned link defunct', needs('clang', 'bpftool', 'ip'), (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const program = fixture.program('count_udp');
  // XDP links support BPF_LINK_DETACH.
  const pair = vethPair(t);
  const link = attachXdp(program, { interface: pair.outer, mode: 'generic' });
  const pin = path.join(fixture.dir, 'xdp_link');
  link.pin(pin);
  link.detach();
  const info = link.info();
  assert.equal(info.ifindex, 0, 'a detached XDP link reports no interface');
  assert.deepEqual(linksOfProgram(program.id).map((l) => l.id), [info.id], 'the link object stays while pinned');
  link.unpin();
  link.close();
  link.close();
  assert.throws(() => link.info(), (e: unknown) => e instanceof BpfError && e.code === 'EBADF');
  assert.deepEqual(linksOfProgram(program.id), []);
});

test('Link.list() sees the links bpftool sees, with the same ids, types and programs', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('raw_sys_enter');
  using link = attachRawTracepoint(program, 'sys_enter');
  const ours = Link.list().find((info) => info.id === link.id);
  assert.deepEqual(ours && { id: ours.id, type: ours.typeName, prog_id: ours.programId }, { id: link.id, type: 'raw_tracepoint', prog_id: program.id });
  const ids = [...Link.ids()];
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  // Links of other processes come and go meanwhile: compare ours only.
  assert.deepEqual(linksOfProgram(program.id).map((l) => ({ id: l.id, type: l.type, prog_id: l.prog_id })), [{ id: link.id, type: 'raw_tracepoint', prog_id: program.id }]);
});
