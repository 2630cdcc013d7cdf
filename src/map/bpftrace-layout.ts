/**
 * The range of a bpftrace `lhist(value, min, max, step)` map, recovered from the instructions of
 * the programs that fill it. An lhist map looks exactly like a `hist()` map (an `AT_name` hash
 * keyed by a u64 slot, no BTF); only the code that computes the slot knows `min`, `max` and
 * `step`. bpftrace (v0.17 and like versions) compiles that slot as
 *   `if (v < min) slot = 0; else { if (v > max) v = max; slot = (v - min) / step + 1; }`
 * which the compiler and verifier leave as: `rD = max` (the clamp) or `if rD > max goto` (past
 * the division), `rD += -min` (absent when min is 0), `rD /= step`, `rD += 1`, stored as the key
 * before the map is loaded (`ld_imm64` with the map's id). `hist()` computes its slot with shifts and compares, never a division by a constant.
 * When the pattern is not there (another bpftrace version, programs unloaded), this says so
 * rather than guess.
 */
import type { BpfMap } from './bpf-map.js';
import type { LhistLayout } from './histogram.js';
import { programInstructions, programsUsingMap } from './map-users.js';

const LD_IMM64 = 0x18;
const PSEUDO_MAP_FD = 1;
const CALL = 0x85;
/** ALU64 and ALU32 with an immediate: mov, add, div. */
const MOV_K = new Set([0xb7, 0xb4]);
const ADD_K = new Set([0x07, 0x04]);
const DIV_K = new Set([0x37, 0x34]);
const AND_K = new Set([0x57, 0x54]);
/** Conditional jumps against an immediate: `if rD > K`, `if rD >= K` (64 and 32 bits). */
const JGT_K = new Set([0x25, 0x26, 0x35, 0x36]);

interface Insn { readonly code: number; readonly dst: number; readonly src: number; readonly imm: number }

function decode(bytes: Uint8Array): Insn[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const insns: Insn[] = [];
  for (let at = 0; at + 8 <= bytes.length; at += 8) {
    const regs = view.getUint8(at + 1);
    insns.push({ code: view.getUint8(at), dst: regs & 0x0f, src: regs >> 4, imm: view.getInt32(at + 4, true) });
  }
  return insns;
}

/** The lhist range the code before instruction `load` (a load of the map) computes, if any. */
function rangeBefore(insns: readonly Insn[], load: number): LhistLayout | undefined {
  let start = load - 1;
  while (start > 0 && insns[start - 1]?.code !== CALL && insns[start - 1]?.code !== LD_IMM64) start--;
  let divAt = -1;
  for (let i = load - 1; i >= start; i--) {
    if (DIV_K.has(insns[i]!.code)) {
      divAt = i;
      break;
    }
  }
  if (divAt < 0) return undefined;
  const div = insns[divAt]!;
  // Back from the division, on its register: `+= -min` (none when min is 0), then the clamp to
  // max, as `rD = max` or as a jump past the division when `rD > max`.
  // LLVM may write the clamp as `rD = -56; rD &= 255` (200): a mask after the move applies to it.
  let min: number | undefined;
  let mask = -1;
  for (let i = divAt - 1; i >= start; i--) {
    const insn = insns[i]!;
    if (insn.dst !== div.dst) continue;
    if (ADD_K.has(insn.code)) min ??= -insn.imm;
    else if (AND_K.has(insn.code)) mask &= insn.imm;
    else if (MOV_K.has(insn.code) || JGT_K.has(insn.code)) {
      const max = MOV_K.has(insn.code) ? insn.imm & mask : insn.imm;
      const range = { kind: 'bpftrace-lhist', min: min ?? 0, max, step: div.imm } as const;
      return range.step > 0 && range.max > range.min ? range : undefined;
    }
  }
  return undefined;
}

/** What the programs filling a bpftrace map say of its layout. */
export interface BpftraceLayoutFound {
  /** The lhist range, when the instructions compute one. */
  readonly lhist: LhistLayout | undefined;
  /** How many loaded programs use the map (0: the script has exited; a pin kept the map). */
  readonly programs: number;
}

/**
 * Recovers `lhist()`'s range for a bpftrace map from the instructions of the programs that use
 * it (see the module comment); `lhist` is undefined when none computes one, or when programs
 * disagree. Needs CAP_SYS_ADMIN.
 *
 * @example
 * const { lhist } = bpftraceLayoutOf(map);
 * readHistograms(map, lhist !== undefined ? { layout: lhist } : {});
 */
export function bpftraceLayoutOf(map: BpfMap): BpftraceLayoutFound {
  const programs = programsUsingMap(map);
  let found: LhistLayout | undefined;
  for (const programId of programs) {
    const bytes = programInstructions(programId);
    if (bytes === undefined) continue;
    const insns = decode(bytes);
    insns.forEach((insn, index) => {
      if (insn.code !== LD_IMM64 || insn.src !== PSEUDO_MAP_FD || insn.imm !== map.id) return;
      const range = rangeBefore(insns, index);
      if (range === undefined) return;
      if (found !== undefined && (found.min !== range.min || found.max !== range.max || found.step !== range.step)) found = { ...found, step: -1 };
      else found ??= range;
    });
  }
  return { lhist: found !== undefined && found.step > 0 ? found : undefined, programs: programs.length };
}
