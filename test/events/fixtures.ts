/**
 * Helpers for the event tests: load an events_* fixture, run its producer with bpftool (as a
 * child process, so the event loop keeps running and the test can consume meanwhile), and read
 * or write the fixture's `state` array of u64 slots.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { BpfMap } from '../../src/index.js';
import { buildBpfObject, loadBpfObject, pinDir, tempDir } from '../helpers.js';

/** A loaded fixture: where its programs and maps are pinned, and a 64-byte packet for XDP runs. */
export interface LoadedFixture {
  readonly progs: string;
  readonly maps: string;
  readonly packet: string;
}

/** Builds, loads and pins `test/fixtures/NAME.bpf.c` for one test. */
export function loadFixture(t: TestContext, name: string): LoadedFixture {
  const { progs, maps } = loadBpfObject(buildBpfObject(name), pinDir(t, name));
  // XDP test runs need a packet of at least an Ethernet header.
  const packet = path.join(tempDir(t, name), 'packet');
  writeFileSync(packet, new Uint8Array(64));
  return { progs, maps, packet };
}

/**
 * Runs a pinned program `repeat` times in the kernel (BPF_PROG_TEST_RUN via bpftool), pinned to
 * `cpu` with taskset when given. Resolves when bpftool exits successfully.
 */
export function runProgram(fixture: LoadedFixture, program: string, repeat: number, cpu?: number): Promise<void> {
  const bpftoolArgs = ['prog', 'run', 'pinned', path.join(fixture.progs, program), 'data_in', fixture.packet, 'repeat', String(repeat)];
  const [command, args] = cpu === undefined ? ['bpftool', bpftoolArgs] : ['taskset', ['-c', String(cpu), 'bpftool', ...bpftoolArgs]];
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

/** The fixture's `state` array (u32 keys, u64 values). Close it when done. */
export class FixtureState {
  readonly #map: BpfMap;

  constructor(fixture: LoadedFixture) {
    this.#map = BpfMap.openPinned(path.join(fixture.maps, 'state'));
  }

  #key(slot: number): Uint8Array {
    return new Uint8Array(new Uint32Array([slot]).buffer);
  }

  get(slot: number): number {
    const value = this.#map.get(this.#key(slot));
    if (!value) throw new Error(`state slot ${slot} missing`);
    return Number(new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true));
  }

  set(slot: number, value: number): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
    this.#map.set(this.#key(slot), bytes);
  }

  close(): void {
    this.#map.close();
  }
}

/** Reads a numbered event `{u64 seq; u64 ~seq}` and checks its integrity. */
export function eventSequence(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const seq = view.getBigUint64(0, true);
  const check = view.getBigUint64(8, true);
  if ((seq ^ check) !== 0xffff_ffff_ffff_ffffn) throw new Error(`corrupt event: seq ${seq}, check ${check.toString(16)}`);
  return Number(seq);
}
