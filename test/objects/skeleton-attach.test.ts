/**
 * A skeleton's `attach(targets)`: programs whose sections name no target (XDP, tcx, cgroup) are
 * given one by program name, typed in the generated code (a missing or wrong-kind target is a
 * compile error under tsc --strict, and a BpfAttachError `ERR_BPFMAP_ATTACH_TARGET` naming the
 * program at run time, with nothing left attached). With targets, the XDP and tcx programs count
 * the datagrams sent over a veth pair from a network namespace the test creates, and the cgroup
 * program the sockets a process in a cgroup the test creates opens; closing the skeleton detaches
 * every link (checked with bpftool).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BpfAttachError, type BpfMap, type BpfProgram, type Link } from '../../src/index.js';
import { buildBpfObject, needs, repoRoot, tempDir } from '../helpers.js';
import { cliPath } from '../cli/run-cli.js';
import { linksOfProgram, startChild, vethPair, type Child } from './link/helpers.js';

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext',
    strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: true,
    types: ['node'], typeRoots: [path.join(repoRoot, 'node_modules/@types')], outDir: 'out', rootDir: '.',
  },
  include: ['*.ts'],
};

// Compiled only: the targets are typed by program name.
const TYPES = `import { load, type SkelAttachAttachTargets } from './skel_attach.js';
export function typed(): void {
  using skel = load();
  // @ts-expect-error skat_xdp, skat_tcx and skat_sock need targets: attach() takes them
  skel.attach();
  // @ts-expect-error skat_sock needs a cgroup
  skel.attach({ skat_xdp: { interface: 'veth0' }, skat_tcx: false });
  // @ts-expect-error an XDP program takes an interface, not a cgroup
  const wrong: SkelAttachAttachTargets = { skat_xdp: { cgroup: '/sys/fs/cgroup' }, skat_tcx: false, skat_sock: false };
  void wrong;
  // @ts-expect-error no program is called skat_nope
  const unknown: SkelAttachAttachTargets = { skat_xdp: false, skat_tcx: false, skat_sock: false, skat_nope: false };
  void unknown;
  skel.attach({ skat_xdp: { interface: 1 }, skat_tcx: { interface: 'veth0' }, skat_sock: { cgroup: '/sys/fs/cgroup/app' } });
  skel.attach({ skat_xdp: false, skat_tcx: false, skat_sock: false });
}
`;

/** The generated module's shape, as the test uses it at run time. */
interface Skeleton extends Disposable {
  readonly maps: { readonly skat_counts: BpfMap<number, bigint> };
  readonly programs: Record<'skat_xdp' | 'skat_tcx' | 'skat_sock', BpfProgram>;
  attach(targets?: unknown): readonly Link[];
  close(): void;
}

function cgroup2Root(): string {
  const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  const root = line?.split(' ')[1];
  assert.ok(root, 'cgroup v2 must be mounted');
  return root;
}

/** A fresh cgroup `bpfmap-coldload-<pid>-...` holding `child`; removed when the test ends. */
function cgroupWith(t: TestContext, child: Child): string {
  const dir = path.join(cgroup2Root(), `bpfmap-coldload-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
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

const isTargetError = (program: string, what: RegExp) => (error: unknown): boolean =>
  error instanceof BpfAttachError && error.code === 'ERR_BPFMAP_ATTACH_TARGET' && error.program === program && what.test(error.message);

test('skeleton attach(targets): typed targets by program; XDP and tcx on a veth, cgroup/sock_create on a cgroup, all detached on close', needs('clang', 'bpftool', 'cc', 'ip'), async (t) => {
  const object = buildBpfObject('skel_attach');
  const dir = tempDir(t, 'bpfmap-gen-attach');
  const cli = cliPath;
  const index = path.join(repoRoot, 'dist/src/index.js');
  writeFileSync(path.join(dir, 'skel_attach.ts'), execFileSync(process.execPath, [cli, 'gen', object, 'import', index], { encoding: 'utf8' }));
  writeFileSync(path.join(dir, 'types.ts'), TYPES);
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    assert.fail(`tsc --strict rejected the skeleton or its use:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
  const { load } = (await import(pathToFileURL(path.join(dir, 'out/skel_attach.js')).href)) as { load: () => Skeleton };

  const pair = vethPair(t, 'coldload');
  const sender = await startChild(t, { netns: pair.netns });
  const inside = await startChild(t);
  const cgroup = cgroupWith(t, inside);
  const port = 40000 + (process.pid % 20000);

  const skel = load();
  t.after(() => skel.close());
  const ids = Object.values(skel.programs).map((program) => program.id);
  const noLinks = (): void => {
    for (const id of ids) assert.deepEqual(linksOfProgram(id), [], `program ${id} has no link left`);
  };

  // Missing targets: the error names the program and what it needs; nothing stays attached.
  assert.throws(() => skel.attach(), isTargetError('skat_xdp', /names no interface.*skat_xdp: \{ interface/));
  assert.throws(() => skel.attach({ skat_xdp: { interface: pair.outer }, skat_tcx: { interface: pair.outer } }), isTargetError('skat_sock', /names no cgroup/));
  noLinks();
  assert.throws(() => skel.attach({ skat_xdp: { cgroup }, skat_tcx: false, skat_sock: false }), isTargetError('skat_xdp', /names no interface/));
  assert.throws(() => skel.attach({ skat_xdp: false, skat_tcx: false, skat_sock: { interface: pair.outer } }), isTargetError('skat_sock', /names no cgroup/));
  assert.throws(() => skel.attach({ skat_xdp: false, skat_tcx: false, skat_sock: false, skat_nope: false }), { code: 'ERR_BPFMAP_OPTIONS', message: /skat_nope/ });
  assert.throws(() => skel.attach({ skat_xdp: 'veth0', skat_tcx: false, skat_sock: false }), isTargetError('skat_xdp', /must be an object/));
  noLinks();
  assert.deepEqual(skel.attach({ skat_xdp: false, skat_tcx: false, skat_sock: false }), [], 'false leaves every program unattached');

  const links = skel.attach({ skat_xdp: { interface: pair.outer }, skat_tcx: { interface: pair.outer }, skat_sock: { cgroup } });
  assert.deepEqual(links.map((link) => link.info().typeName), ['xdp', 'tcx', 'cgroup']);
  await sender.run(`udp ${pair.target} ${port} 5`);
  await inside.run('socket 4');
  const counts = skel.maps.skat_counts;
  // Packets reach the veth end through a softirq, possibly after the sender's call returned.
  const settled = async (index: number, expected: bigint): Promise<bigint> => {
    const deadline = Date.now() + 2000;
    while ((counts.get(index) ?? 0n) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return counts.get(index) ?? 0n;
  };
  // At least the 5 datagrams: a veth end may also see the namespace's own neighbour traffic.
  assert.ok((await settled(0, 5n)) >= 5n, 'XDP counted the datagrams');
  assert.ok((await settled(1, 5n)) >= 5n, 'tcx ingress counted the datagrams');
  assert.equal(counts.get(2), 4n, 'cgroup/sock_create counted the sockets made inside the cgroup');
  const shown = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', pair.outer], { encoding: 'utf8' })) as Array<{ xdp?: { prog?: { id: number } } }>;
  assert.equal(shown[0]?.xdp?.prog?.id, skel.programs.skat_xdp.id, 'ip link shows the XDP program on the interface');
  for (const id of ids) assert.equal(linksOfProgram(id).length, 1, `program ${id} has its link`);

  skel.close();
  noLinks();
});
