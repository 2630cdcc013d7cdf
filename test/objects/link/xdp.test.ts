/**
 * XDP on a veth pair: one end in a network namespace the test creates, the other (where the
 * program is attached) in the test's own namespace, with no address, so nothing but the test's
 * datagrams reaches it. The child sends UDP datagrams from inside the namespace; the program
 * counts exactly those, and nothing once the link is closed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { attachXdp, BpfAttachError, BpfError } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, setU32, settledCounter, startChild, vethPair } from './helpers.js';

test('XDP on a veth end counts the datagrams sent to it from another namespace, and detaches on close', needs('clang', 'bpftool', 'cc', 'ip'), async (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const program = fixture.program('count_udp');
  const counts = fixture.map('xdp_counts');
  const pair = vethPair(t);
  const port = 40000 + (process.pid % 20000);
  setU32(fixture.map('xdp_port'), port);
  const child = await startChild(t, { netns: pair.netns });

  const link = attachXdp(program, { interface: pair.outer, mode: 'generic' });
  t.after(() => link.close());
  await child.run(`udp ${pair.target} ${port} 5`);
  assert.equal(await settledCounter(counts, 1, 5n), 5n);
  const info = link.info();
  assert.equal(info.typeName, 'xdp');
  assert.equal(info.ifindex, Number(readFileSync(`/sys/class/net/${pair.outer}/ifindex`, 'utf8')));
  assert.equal(link.target, pair.outer);
  const shown = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', pair.outer], { encoding: 'utf8' })) as Array<{ xdp?: { prog?: { id: number } } }>;
  assert.equal(shown[0]?.xdp?.prog?.id, program.id, 'ip link shows the program on the interface');

  link.close();
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run(`udp ${pair.target} ${port} 3`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(counter(counts, 1), 5n, 'nothing counted after close');
  const after = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', pair.outer], { encoding: 'utf8' })) as Array<{ xdp?: unknown }>;
  assert.equal(after[0]?.xdp, undefined, 'the interface has no XDP program left');
});

test('XDP by interface index, and a second link on the same interface is refused with a clear error', needs('clang', 'bpftool', 'ip'), (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const program = fixture.program('count_udp');
  const pair = vethPair(t);
  const ifindex = Number(readFileSync(`/sys/class/net/${pair.outer}/ifindex`, 'utf8'));
  using link = attachXdp(program, { interface: ifindex });
  assert.equal(link.info().ifindex, ifindex);
  assert.equal(link.target, pair.outer);
  assert.throws(
    () => attachXdp(program, { interface: pair.outer }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'EBUSY' && e.message.includes(pair.outer) && e.message.includes('count_udp'),
  );
  assert.equal(linksOfProgram(program.id).length, 1);
});

test('XDP errors: unknown interface names and indexes, bad modes', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const program = fixture.program('count_udp');
  assert.throws(
    () => attachXdp(program, { interface: 'bpfmapnosuch0' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_INTERFACE' && /bpfmapnosuch0/.test(e.message) && /count_udp/.test(e.message),
  );
  assert.throws(() => attachXdp(program, { interface: 2 ** 30 }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_INTERFACE');
  assert.throws(() => attachXdp(program, { interface: 'a/b' }), { code: 'ERR_BPFMAP_INTERFACE' });
  assert.throws(() => attachXdp(program, { interface: 'lo', mode: 'turbo' as never }), { code: 'ERR_BPFMAP_XDP_MODE' });
  assert.deepEqual(linksOfProgram(program.id), []);
});

test('update() swaps the program of an XDP link atomically, and replace refuses a stale program', needs('clang', 'bpftool', 'ip'), (t) => {
  const first = loadFixture(t, 'attach_xdp');
  const second = loadFixture(t, 'attach_xdp');
  const one = first.program('count_udp');
  const two = second.program('count_udp');
  const pair = vethPair(t);
  using link = attachXdp(one, { interface: pair.outer, mode: 'generic' });
  link.update(two);
  assert.equal(link.info().programId, two.id);
  assert.throws(() => link.update(one, { replace: one }), (e: unknown) => e instanceof BpfError && e.code === 'EPERM' && /not the one to replace/.test(e.message));
  link.update(one, { replace: two });
  assert.equal(link.info().programId, one.id);
  assert.throws(() => link.update(first.program('tcx_count_udp')), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
  assert.equal(link.info().programId, one.id, 'a refused update changes nothing');
});
