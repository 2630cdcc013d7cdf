/**
 * The addon's tests under valgrind (#10: "run the addon's tests under valgrind in CI"): the raw
 * addon test (forged holders, wrong kinds, closed handles, unmap after a turn, a bounded fuzz),
 * the batch reader's (its worker thread and the copies out of its buffers),
 * the handle tests through the public API, and the map and event paths (map-paths.test.ts: every
 * common map type, batches, per-CPU, mmap, codecs, close and reuse, ring, perf and user ring
 * buffers fed by BPF programs) run in a node process under memcheck, and any
 * invalid read or write, use of freed memory or uninitialised value in the addon fails this test.
 * test/native/valgrind.supp holds the V8 noise (each suppression explained there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { needs, repoRoot } from '../helpers.js';

const ERROR_EXIT = 97;

function underValgrind(testFile: string, env: Record<string, string>, timeoutMs = 240_000): { status: number | null; output: string } {
  const result = spawnSync(
    'valgrind',
    [
      `--error-exitcode=${ERROR_EXIT}`,
      // V8 writes machine code at run time: valgrind must re-check code it translated.
      '--smc-check=all-non-file',
      `--suppressions=${path.join(repoRoot, 'test/native/valgrind.supp')}`,
      '--quiet',
      process.execPath,
      '--expose-gc',
      path.join(repoRoot, 'dist/test/native', testFile),
    ],
    { encoding: 'utf8', env: childEnv(env), timeout: timeoutMs },
  );
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

/** This environment for a standalone run: without the parent runner's NODE_TEST_CONTEXT, the child prints TAP. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, BPFMAP_UNDER_VALGRIND: '1' };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/** The valgrind report lines (`==PID== ...`), which --quiet limits to errors. */
function valgrindErrors(output: string): string[] {
  return output.split('\n').filter((line) => /^==\d+==/.test(line));
}

test('the raw addon tests and a bounded fuzz are valgrind-clean', needs('valgrind'), () => {
  const { status, output } = underValgrind('raw-addon.test.js', { BPFMAP_FUZZ_MS: '6000' });
  assert.deepEqual(valgrindErrors(output), [], output);
  assert.equal(status, 0, output);
  assert.match(output, /# pass 6/);
  assert.match(output, /# \d+ calls, seed/);
});

test('the handle regressions through the public API are valgrind-clean', needs('valgrind'), () => {
  const { status, output } = underValgrind('handles.test.js', {});
  assert.deepEqual(valgrindErrors(output), [], output);
  assert.equal(status, 0, output);
  assert.match(output, /# pass \d+/);
  assert.doesNotMatch(output, /# fail [1-9]/);
});

test('the batch reader (a thread per reader, its buffers copied out on finish) is valgrind-clean', needs('valgrind'), () => {
  const { status, output } = underValgrind('batch-reader.test.js', {});
  assert.deepEqual(valgrindErrors(output), [], output);
  assert.equal(status, 0, output);
  assert.match(output, /# pass 10/);
  assert.doesNotMatch(output, /# fail [1-9]/);
});

test('the map and event paths are valgrind-clean', needs('valgrind', 'clang', 'bpftool'), () => {
  // About 45 s on a quiet 2-CPU machine; the bound leaves room for a loaded one.
  const { status, output } = underValgrind('map-paths.test.js', {}, 420_000);
  assert.deepEqual(valgrindErrors(output), [], output);
  assert.equal(status, 0, output);
  assert.match(output, /# pass 6/);
  assert.doesNotMatch(output, /# (fail|skipped) [1-9]/);
});
