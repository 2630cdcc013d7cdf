/**
 * The verifier log of a load: the log levels (1 basic, 2 every instruction, 4 statistics) kept
 * per program, and a first buffer far too small grown until the whole log fits (the kernel says
 * ENOSPC and, from Linux 6.4, the size it needed), for a program that loads and for one the
 * verifier refuses: the log is the same as with a buffer big enough at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, VerifierError } from '../../src/index.js';
import { buildBpfObject, needs } from '../helpers.js';

function logOf(objectPath: string, logLevel: number, logSize?: number): string {
  using object = BpfObject.load(objectPath, { programs: ['xdp_loop'], logLevel, ...(logSize === undefined ? {} : { logSize }) });
  // Level 2 prints the kernel addresses of the maps each load creates: the rest must be equal.
  return object.program('xdp_loop').verifierLog.replace(/0x[0-9a-f]{12,16}/g, '0xADDRESS');
}

function refusal(objectPath: string, logSize?: number): VerifierError {
  try {
    BpfObject.load(objectPath, { programs: ['out_of_bounds'], ...(logSize === undefined ? {} : { logSize }) }).close();
  } catch (error) {
    assert.ok(error instanceof VerifierError, String(error));
    return error;
  }
  return assert.fail('the verifier accepted out_of_bounds');
}

test('log levels 1, 2 and 4 keep each program\'s log; a 16-byte first buffer grows until the log fits', needs('clang'), () => {
  const objectPath = buildBpfObject('obj_basic');
  const basic = logOf(objectPath, 1);
  const verbose = logOf(objectPath, 2);
  const stats = logOf(objectPath, 4);
  for (const log of [basic, verbose, stats]) assert.match(log, /processed \d+ insns \(limit \d+\)/);
  assert.ok(verbose.length > 10 * basic.length, 'level 2 logs every instruction');
  assert.match(verbose, /call bpf_loop#181/);
  assert.doesNotMatch(basic, /call bpf_loop/);
  assert.ok(basic.length > 16 && verbose.length > 4096);
  assert.equal(logOf(objectPath, 1, 16), basic, 'the whole log, not its first 16 bytes');
  assert.equal(logOf(objectPath, 2, 64), verbose);
  assert.throws(() => logOf(objectPath, 8), { name: 'RangeError', code: 'ERR_BPFMAP_OPTIONS' });
});

test('a refused program\'s log is complete even from a 32-byte first buffer', needs('clang'), () => {
  const objectPath = buildBpfObject('obj_errors');
  const whole = refusal(objectPath);
  assert.ok(whole.log.length > 32);
  assert.match(whole.log, /invalid.*stack|out of bounds/);
  const grown = refusal(objectPath, 32);
  assert.equal(grown.log, whole.log);
  assert.equal(grown.truncated, false);
  assert.equal(grown.message, whole.message);
});
