/**
 * `CoreRelocationError`: a CO-RE relocation that can be neither applied nor poisoned. It names the
 * program, ELF section, instruction, relocation kind, local type and access string, so that the
 * line of C behind it can be found (`llvm-objdump -d` at that instruction).
 */
import type { CoreRelocationKind } from '../btf-ext.js';

/** Stable codes of `CoreRelocationError`. */
export type CoreRelocationErrorCode =
  /** The local side is unusable: bad access string for its type, anonymous root type, bad BTF. */
  | 'ERR_BPFMAP_CORE_BAD_RELOCATION'
  /** Several kernel candidates match but give different offsets or values (libbpf refuses too). */
  | 'ERR_BPFMAP_CORE_AMBIGUOUS'
  /** The instruction is not one CO-RE can patch, or does not hold the value clang computed locally. */
  | 'ERR_BPFMAP_CORE_BAD_INSTRUCTION'
  /** The kernel's value does not fit the instruction (offset above 32767, bitfield over 64 bits). */
  | 'ERR_BPFMAP_CORE_OUT_OF_RANGE';

/** Where a relocation sits, for messages. */
export interface CoreRelocationPlace {
  /** The program's name, when known. */
  readonly program?: string | undefined;
  /** The ELF section the record came from, when known. */
  readonly section?: string | undefined;
  /** Instruction index within the instructions given to the relocator. */
  readonly instruction: number;
  readonly kind: CoreRelocationKind;
  /** The local root type, as `struct task_struct` or `[12]` when anonymous. */
  readonly localType: string;
  readonly accessString: string;
}

/**
 * A CO-RE relocation that cannot be applied and cannot be poisoned.
 *
 * @example
 * try { relocator.apply(insns, records, { program: 'handle_exec', section: 'tp/sched/sched_process_exec' }); }
 * catch (e) { if (e instanceof CoreRelocationError) console.error(e.code, e.instruction, e.accessString); }
 */
export class CoreRelocationError extends Error {
  /** Always `'CoreRelocationError'`. */
  override readonly name = 'CoreRelocationError';
  readonly code: CoreRelocationErrorCode;
  readonly program: string | undefined;
  readonly section: string | undefined;
  /** Instruction index within the program's instructions as given. */
  readonly instruction: number;
  readonly kind: CoreRelocationKind;
  readonly localType: string;
  readonly accessString: string;

  constructor(code: CoreRelocationErrorCode, place: CoreRelocationPlace, message: string, cause?: unknown) {
    const where = [
      place.program !== undefined ? `program '${place.program}'` : '',
      place.section !== undefined ? `section '${place.section}'` : '',
      `instruction ${place.instruction}`,
    ].filter(Boolean).join(', ');
    super(`CO-RE ${place.kind} relocation of ${place.localType} access '${place.accessString}' (${where}): ${message}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.program = place.program;
    this.section = place.section;
    this.instruction = place.instruction;
    this.kind = place.kind;
    this.localType = place.localType;
    this.accessString = place.accessString;
  }
}

/** Internal: a failure found below the relocator, which adds the place. */
export class CoreFailure extends Error {
  constructor(readonly code: CoreRelocationErrorCode, message: string) {
    super(message);
  }
}
