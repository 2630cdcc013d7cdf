/**
 * Program type and expected attach type from SEC() names, checked against the system libbpf
 * itself (`libbpf_prog_type_by_name`, through a small host program): for a name built from every
 * pattern of bpfmap's table, and for names that must match no pattern, both must agree wherever
 * the installed libbpf knows the name. Names only newer libbpf versions know (tcx, netkit,
 * uprobe.multi, ... when the system libbpf is older) are listed, never silently skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { sectionDefinition, sectionPatterns } from '../../src/index.js';
import { fixturesDir, needs, tempDir } from '../helpers.js';

/** Names a pattern matches: the stem alone and with a target for `name+`, a target for `name/`. */
function namesOf(pattern: string): string[] {
  if (pattern.endsWith('+')) return [pattern.slice(0, -1), `${pattern.slice(0, -1)}/some_target`];
  if (pattern.endsWith('/')) return [`${pattern}some_target`];
  return [pattern];
}

test('every SEC() name gets the program and expected attach types the system libbpf gives it', needs('gcc'), (t) => {
  const helper = path.join(tempDir(t, 'bpfmap-sections'), 'libbpf_section_types');
  execFileSync('gcc', ['-O2', '-o', helper, path.join(fixturesDir, 'libbpf_section_types.c'), '-lbpf'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const names = [
    ...sectionPatterns().flatMap(namesOf),
    // Near misses: libbpf matches `name+` only at a `/`, and exact names exactly.
    'xdpfoo', 'kprobefoo', 'tracepoint_x', 'socket/extra', 'cgroup/unknown_hook', 'lsmx/file_open', 'not_a_section', '',
    // Longer names before their prefixes.
    'xdp.frags/devmap', 'xdp/cpumap', 'sk_reuseport/migrate', 'cgroup/sock_release', 'uretprobe.multi.s/bin:f',
  ];
  const output = execFileSync(helper, { input: `${names.join('\n')}\n`, encoding: 'utf8' });
  const libbpf = new Map(output.trimEnd().split('\n').map((line) => {
    const [name = '', ...rest] = line.split(' ');
    return [name, rest[0] === '-' ? undefined : { type: Number(rest[0]), attachType: Number(rest[1]) }] as const;
  }));
  assert.equal(libbpf.size, new Set(names).size, 'the helper answered every name');
  const onlyNewer: string[] = [];
  let compared = 0;
  for (const name of names) {
    const theirs = libbpf.get(name);
    const ours = sectionDefinition(name);
    if (theirs === undefined) {
      if (ours !== undefined) onlyNewer.push(name);
      continue;
    }
    assert.ok(ours, `libbpf knows '${name}' (type ${theirs.type}), bpfmap does not`);
    assert.deepEqual({ type: ours.type, attachType: ours.attachType }, theirs, `SEC("${name}")`);
    compared++;
  }
  for (const name of ['xdpfoo', 'kprobefoo', 'tracepoint_x', 'socket/extra', 'cgroup/unknown_hook', 'lsmx/file_open', 'not_a_section', '']) {
    assert.equal(sectionDefinition(name), undefined, `'${name}' matches no pattern`);
  }
  assert.ok(compared > 100, `compared ${compared} names with libbpf`);
  t.diagnostic(`compared ${compared} names; known to bpfmap but not to this libbpf: ${onlyNewer.join(', ') || 'none'}`);
});
