/**
 * Writing a CO-RE outcome into its instruction (libbpf's `bpf_core_patch_insn`): the immediate of
 * `rX = imm` / `rX op= imm`, the offset (and, when the field changed width, the size) of a load or
 * store, or the 64-bit immediate of `ld_imm64`; and poisoning, which turns the instruction (both
 * halves of an `ld_imm64`) into `call 0xbad2310` so that the verifier names it if it is reachable
 * and drops it as dead code otherwise.
 */
import { CoreFailure } from './errors.js';
import type { CoreCalculation } from './calculate.js';

/** Bytes per BPF instruction. */
const INSN = 8;
/** The helper id libbpf writes into poisoned instructions ("bad relo"). */
export const POISON_HELPER_ID = 0xbad2310;

const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_STX = 0x03;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_ALU64 = 0x07;
const BPF_CALL = 0x80;
const BPF_K = 0x00;
/** `BPF_LD | BPF_IMM | BPF_DW`. */
const LD_IMM64 = 0x18;
/** Memory access sizes (`BPF_SIZE` bits) by byte count. */
const SIZE_BITS: Readonly<Record<number, number>> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const SIZE_BYTES: Readonly<Record<number, number>> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

function poisonAt(view: DataView, at: number): void {
  view.setUint8(at, BPF_JMP | BPF_CALL);
  view.setUint8(at + 1, 0);
  view.setInt16(at + 2, 0, true);
  view.setInt32(at + 4, POISON_HELPER_ID, true);
}

/** An instruction's 32-bit immediate or 16-bit offset compared with a u64 as C does (sign-extended). */
function same(field: number, expected: bigint): boolean {
  return BigInt.asUintN(64, BigInt(field)) === expected;
}

/** What happened to the instruction. */
export type PatchOutcome = 'patched' | 'poisoned';

/**
 * Applies `result` to the instruction at index `insn` of `instructions` (little-endian, in place).
 * @throws CoreFailure when the instruction cannot hold the value or does not hold the local one.
 */
export function patchInstruction(instructions: Uint8Array, insn: number, result: CoreCalculation): PatchOutcome {
  const view = new DataView(instructions.buffer, instructions.byteOffset, instructions.byteLength);
  const at = insn * INSN;
  const code = view.getUint8(at);
  const isLdImm64 = code === LD_IMM64;
  if (isLdImm64 && at + 2 * INSN > instructions.length) {
    throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', 'ld_imm64 is cut off by the end of the program');
  }
  const poison = (): PatchOutcome => {
    if (isLdImm64) poisonAt(view, at + INSN);
    poisonAt(view, at);
    return 'poisoned';
  };
  if (result.poison) return poison();
  const describe = (what: string, got: number | bigint): string =>
    `the instruction's ${what} is ${got}, not the ${result.original} clang computed from the local type (new value ${result.value})`;
  switch (code & 0x07) {
    case BPF_ALU: case BPF_ALU64: {
      if ((code & 0x08) !== BPF_K) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', `ALU instruction 0x${code.toString(16)} takes a register, not an immediate`);
      const imm = view.getInt32(at + 4, true);
      if (result.validate && !same(imm, result.original)) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', describe('immediate', imm));
      view.setInt32(at + 4, Number(BigInt.asIntN(32, result.value)), true);
      return 'patched';
    }
    case BPF_LDX: case BPF_ST: case BPF_STX: {
      const offset = view.getInt16(at + 2, true);
      if (result.validate && !same(offset, result.original)) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', describe('offset', offset));
      if (result.value > 0x7fffn) throw new CoreFailure('ERR_BPFMAP_CORE_OUT_OF_RANGE', `offset ${result.value} does not fit a load/store's 16-bit offset`);
      // A field whose width changed to something a wider/narrower load cannot read right.
      if (result.failMemorySizeAdjust) return poison();
      view.setInt16(at + 2, Number(result.value), true);
      if (result.newSize !== result.originalSize) {
        const current = SIZE_BYTES[code & 0x18];
        if (current !== result.originalSize) {
          throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', `the access is ${current} bytes wide, not the local field's ${result.originalSize}`);
        }
        const bits = SIZE_BITS[result.newSize];
        if (bits === undefined) throw new CoreFailure('ERR_BPFMAP_CORE_OUT_OF_RANGE', `the kernel field is ${result.newSize} bytes, which no load or store reads`);
        view.setUint8(at, (code & 0xe0) | bits | (code & 0x07));
      }
      return 'patched';
    }
    case BPF_LD: {
      const next = at + INSN;
      if (!isLdImm64 || view.getUint8(at + 1) >> 4 !== 0 || view.getInt16(at + 2, true) !== 0
        || view.getUint8(next) !== 0 || view.getUint8(next + 1) !== 0 || view.getInt16(next + 2, true) !== 0) {
        throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', 'only a plain ld_imm64 (no pseudo source) can take a CO-RE value');
      }
      const imm = BigInt(view.getUint32(at + 4, true)) | (BigInt(view.getUint32(next + 4, true)) << 32n);
      if (result.validate && imm !== result.original) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', describe('64-bit immediate', imm));
      view.setUint32(at + 4, Number(result.value & 0xffffffffn), true);
      view.setUint32(next + 4, Number((result.value >> 32n) & 0xffffffffn), true);
      return 'patched';
    }
    default:
      throw new CoreFailure('ERR_BPFMAP_CORE_BAD_INSTRUCTION', `instruction class of opcode 0x${code.toString(16)} cannot take a CO-RE value`);
  }
}
