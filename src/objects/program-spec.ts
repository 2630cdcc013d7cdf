/**
 * The code of an object: its executable sections, the functions in them (entry programs and
 * `.text` subprograms), the relocation of each instruction, and `ProgramSpec`, the editable
 * description of one entry program.
 */
import { programTypeName, attachTypeName } from '../sys/program-types.js';
import type { ElfSymbol } from './elf.js';
import type { BpfProgram } from './program.js';
import { argumentError } from '../sys/errors.js';

/** Size of one BPF instruction. */
export const INSTRUCTION_SIZE = 8;
/** Opcodes the linker looks at: `call` (BPF_JMP | BPF_CALL) and `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW). */
export const OPCODE_CALL = 0x85;
export const OPCODE_LD_IMM64 = 0x18;
/** `src_reg` values of pseudo instructions (include/uapi/linux/bpf.h). */
export const PseudoSource = { MAP_FD: 1, MAP_VALUE: 2, BTF_ID: 3, FUNC: 4, MAP_IDX: 5, MAP_IDX_VALUE: 6, CALL: 1, KFUNC_CALL: 2 } as const;

/** What one relocated instruction refers to. */
export type CodeRelocation =
  /** A bpf-to-bpf call into a function of `symbol`'s section. */
  | { readonly kind: 'call'; readonly symbol: ElfSymbol }
  /** The address of a function (a callback, e.g. for bpf_loop). */
  | { readonly kind: 'func'; readonly symbol: ElfSymbol }
  /** A map (`&my_map`), by its key in the spec's maps. */
  | { readonly kind: 'map'; readonly map: string }
  /** A global variable: `offset` bytes into a data map, plus the instruction's own addend. */
  | { readonly kind: 'data'; readonly map: string; readonly offset: number }
  /** A kconfig extern. */
  | { readonly kind: 'kconfig'; readonly name: string }
  /** A kernel symbol extern (`__ksym`) or kfunc call. */
  | { readonly kind: 'ksym'; readonly name: string; readonly call: boolean; readonly weak: boolean }
  /** Something the loader cannot relocate; loading a program that reaches it fails with `reason`. */
  | { readonly kind: 'unsupported'; readonly reason: string; readonly symbol: string };

/** One executable section. */
export interface CodeSection {
  readonly index: number;
  readonly name: string;
  /** The section's instructions (a copy: CO-RE and constants may patch it before linking). */
  readonly instructions: Uint8Array;
  /** Functions in instruction order. */
  readonly functions: CodeFunction[];
  /** Relocations by instruction index within the section. */
  readonly relocations: Map<number, CodeRelocation>;
}

/** A function: a run of instructions of a section. */
export interface CodeFunction {
  readonly name: string;
  readonly section: CodeSection;
  /** First instruction, as an index within the section. */
  readonly start: number;
  readonly count: number;
}

/**
 * One entry program of an object, editable before load: its name, type, expected attach type,
 * flags and attach target come from its section name as libbpf derives them.
 */
export class ProgramSpec {
  /** The C function's name (the kernel keeps its first 15 characters). */
  name: string;
  /** The ELF section (`'xdp'`, `'kprobe/do_unlinkat'`). */
  readonly sectionName: string;
  /** Program type (`ProgramType`); 0 when the section name matches no known type. */
  type: number;
  /** Expected attach type (`AttachType`), or undefined when libbpf passes none. */
  attachType: number | undefined;
  /** BPF_PROG_LOAD `prog_flags` (`ProgramFlags`: sleepable, XDP frags). */
  flags: number;
  /** What the section names after its first `/` (function, tracepoint, ...). */
  attachTarget: string;
  /** True when the attach target is found in kernel BTF at load (fentry, fexit, lsm, tp_btf, iter). */
  attachBtf: boolean;
  /** The object's license, passed to the kernel with the program. */
  license: string;
  /** The object's `version` section (kprobes on kernels before 5.0 checked it), 0 when none. */
  kernelVersion: number;
  /** Load this program (false: leave it out, as libbpf's `autoload`). */
  autoload: boolean;
  /**
   * For freplace (`SEC("freplace/FUNC")`) programs: the loaded program whose global function
   * `attachTarget` this one replaces (see `setAttachTarget`). libbpf's `attach_prog_fd`.
   */
  attachProgram: BpfProgram | undefined;
  /** @internal The function's code in its section. */
  readonly code: CodeFunction;

  constructor(init: {
    code: CodeFunction; type: number; attachType: number | undefined; flags: number; attachTarget: string; attachBtf: boolean;
    license: string; kernelVersion: number;
  }) {
    this.code = init.code;
    this.name = init.code.name;
    this.sectionName = init.code.section.name;
    this.type = init.type;
    this.attachType = init.attachType;
    this.flags = init.flags;
    this.attachTarget = init.attachTarget;
    this.attachBtf = init.attachBtf;
    this.license = init.license;
    this.kernelVersion = init.kernelVersion;
    this.autoload = true;
    this.attachProgram = undefined;
  }

  /**
   * Sets what an freplace program replaces: a global function of a loaded program (by default
   * the function its section names), as libbpf's `bpf_program__set_attach_target`.
   *
   * @example
   * spec.program('new_pick').setAttachTarget(target.program('xdp_main'), 'pick');
   */
  setAttachTarget(program: BpfProgram, functionName: string = this.attachTarget): this {
    if (program === null || typeof program !== 'object' || typeof (program as { id?: unknown }).id !== 'number') {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `setAttachTarget: expected a loaded BpfProgram, got ${typeof program}`);
    }
    if (typeof functionName !== 'string' || functionName === '') {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `setAttachTarget: name the function to replace (section '${this.sectionName}' names none)`);
    }
    this.attachProgram = program;
    this.attachTarget = functionName;
    return this;
  }

  /** bpftool's name of the program type (`'xdp'`), `'unspec'` when unknown. */
  get typeName(): string {
    return programTypeName(this.type);
  }

  /** The attach type's name, when it has one. */
  get attachTypeName(): string | undefined {
    return this.attachType === undefined ? undefined : attachTypeName(this.attachType);
  }

  /** The function's own instructions (without the subprograms it calls), as in the object. */
  get instructions(): Uint8Array {
    const { section, start, count } = this.code;
    return section.instructions.slice(start * INSTRUCTION_SIZE, (start + count) * INSTRUCTION_SIZE);
  }
}
