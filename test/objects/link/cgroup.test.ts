/**
 * cgroup programs on a cgroup v2 directory the test creates: a child process moved into it
 * creates sockets, which the cgroup/sock_create program counts; closing the link detaches it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { attachCgroup, BpfAttachError } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, startChild, type Child } from './helpers.js';

/** Where cgroup v2 is mounted (the unified hierarchy), from /proc/self/mounts. */
function cgroup2Root(): string | undefined {
  const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  return line?.split(' ')[1];
}

/** A fresh cgroup holding `child`; the child is killed and the cgroup removed when the test ends. */
function cgroupWith(t: TestContext, child: Child): string {
  const root = cgroup2Root();
  assert.ok(root, 'cgroup v2 must be mounted');
  const dir = path.join(root, `bpfmap-attach-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  t.after(async () => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // exited already
    }
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir);
        return;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  });
  writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
  return dir;
}

test('cgroup/sock_create counts the sockets a process in the cgroup creates, and detaches on close', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const program = fixture.program('sock_create');
  const counts = fixture.map('misc_counts');
  const inside = await startChild(t);
  const outside = await startChild(t);
  const cgroup = cgroupWith(t, inside);
  {
    // Opened from a pin, the program does not know its attach type: pass it.
    using link = attachCgroup(program, { cgroup, attachType: 'cgroup_inet_sock_create' });
    await inside.run('socket 4');
    await outside.run('socket 6');
    const info = link.info();
    assert.equal(info.typeName, 'cgroup');
    assert.equal(info.attachTypeName, 'cgroup_inet_sock_create');
    assert.ok(typeof info.cgroupId === 'bigint' && info.cgroupId > 0n);
    assert.equal(link.target, cgroup);
    assert.equal(linksOfProgram(program.id).length, 1);
  }
  assert.equal(counter(counts, 2), 4n, 'only the sockets of the process in the cgroup');
  assert.deepEqual(linksOfProgram(program.id), []);
  await inside.run('socket 2');
  assert.equal(counter(counts, 2), 4n, 'nothing counted after close');
});

test('cgroup errors: missing cgroup, a directory that is not cgroup v2, no attach type', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const program = fixture.program('sock_create');
  assert.throws(
    () => attachCgroup(program, { cgroup: '/sys/fs/cgroup/bpfmap-no-such-cgroup', attachType: 'cgroup_inet_sock_create' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_CGROUP' && /no cgroup at/.test(e.message) && /sock_create/.test(e.message),
  );
  assert.throws(
    () => attachCgroup(program, { cgroup: '/tmp', attachType: 'cgroup_inet_sock_create' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_CGROUP' && /not on a cgroup v2/.test(e.message),
  );
  assert.throws(() => attachCgroup(program, { cgroup: '/tmp' }), { code: 'ERR_BPFMAP_ATTACH_TYPE' });
  assert.throws(() => attachCgroup(program, { cgroup: '/tmp', attachType: 'no_such_type' as never }), { code: 'ERR_BPFMAP_ATTACH_TYPE' });
  assert.deepEqual(linksOfProgram(program.id), []);
});
