import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { needs, repoRoot } from '../helpers.js';

test('without privileges, errors name the capability that is missing', needs('setpriv'), () => {
  // Run a child as nobody: bpf(2) then fails with EPERM, and the message must say what to do.
  const script = `
    import { BpfMap } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};
    const out = [];
    for (const attempt of [
      () => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 }),
      () => BpfMap.list(),
    ]) {
      try { attempt(); out.push('no error'); } catch (e) { out.push({ name: e.name, code: e.code, command: e.command, message: e.message }); }
    }
    console.log(JSON.stringify(out));
  `;
  const output = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: '/',
  });
  const results = JSON.parse(output) as Array<{ name: string; code: string; command: string; message: string }>;
  assert.equal(results.length, 2);
  for (const result of results) {
    assert.equal(result.name, 'BpfError');
    assert.equal(result.code, 'EPERM');
    assert.match(result.message, /need root or CAP_BPF/);
  }
  assert.equal(results[0]!.command, 'MAP_CREATE');
  assert.equal(results[1]!.command, 'MAP_GET_NEXT_ID');
});
