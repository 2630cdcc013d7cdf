/**
 * Linking one entry program: its instructions, followed by every subprogram it reaches (bpf-to-bpf
 * calls and callback addresses), each appended once, with calls pointed at the copies; map,
 * global-data and kconfig references rewritten to fd_array indexes (`BPF_PSEUDO_MAP_IDX` and
 * `BPF_PSEUDO_MAP_IDX_VALUE`), so that no fd number is written into an instruction.
 */
import { ObjectError } from './errors.js';
import { INSTRUCTION_SIZE, OPCODE_CALL, OPCODE_LD_IMM64, PseudoSource, type CodeFunction, type CodeSection } from './program-spec.js';
import type { PlacedRange } from './btf-ext.js';

/** A program ready for BPF_PROG_LOAD. */
export interface LinkedProgram {
  readonly instructions: Uint8Array;
  /** Where each function landed (for func_info / line_info). */
  readonly placements: ReadonlyArray<{ readonly fn: CodeFunction; readonly at: number }>;
  /** The maps the instructions index, in fd_array order, by their key in the spec's maps. */
  readonly maps: readonly string[];
}

/** Resolves what the linker cannot know alone. */
export interface LinkContext {
  /** The executable sections by ELF section index. */
  readonly code: ReadonlyMap<number, CodeSection>;
  /** A section's instructions as linking should read them (after CO-RE), default its own. */
  readonly instructionsOf?: (section: CodeSection) => Uint8Array;
  /** The kconfig map's key and an extern's offset in it. */
  readonly kconfigOffset: (name: string) => number | undefined;
  /**
   * Rewrites a ksym extern reference (typed `__ksym` variables, kfunc calls) at `position` of
   * `instructions`; when absent, such a reference fails the load. `fdArrayIndex(key)` gives an
   * fd_array slot (1 or more) for an object the kernel must find there (`btf:<module>`).
   * `where` names the reference (program, section, instruction in the section) for errors.
   */
  readonly resolveKsym?: (
    instructions: Uint8Array, position: number, name: string, call: boolean, weak: boolean,
    fdArrayIndex: (key: string) => number, where: { readonly program: string; readonly section: string; readonly instruction: number },
  ) => void;
}

/** The function of `section` that holds instruction `index`. */
function functionAt(section: CodeSection, index: number): CodeFunction | undefined {
  return section.functions.find((fn) => index >= fn.start && index < fn.start + fn.count);
}

/**
 * Links the entry program `entry` (libbpf's `bpf_object__reloc_code`).
 * @throws ObjectError (`ERR_BPFMAP_OBJECT_RELOCATION`, `ERR_BPFMAP_OBJECT_KSYM`) naming the program,
 *   section and instruction (counted within the section) of a reference it cannot resolve.
 */
export function linkProgram(entry: CodeFunction, context: LinkContext): LinkedProgram {
  const placed = new Map<CodeFunction, number>([[entry, 0]]);
  const order: CodeFunction[] = [entry];
  let total = entry.count;
  const maps: string[] = [];
  const mapIndex = (key: string): number => {
    let index = maps.indexOf(key);
    if (index < 0) index = maps.push(key) - 1;
    return index;
  };
  // An fd_array slot that an insn.off names: never 0, which means vmlinux (a duplicate pads it).
  const fdArrayIndex = (key: string): number => {
    if (maps.length === 0) maps.push(key);
    const index = mapIndex(key);
    return index === 0 ? maps.push(key) - 1 : index;
  };
  interface Fixup { position: number; apply: (view: DataView, bytes: Uint8Array) => void }
  const fixups: Fixup[] = [];
  const fail = (fn: CodeFunction, index: number, message: string, code: 'ERR_BPFMAP_OBJECT_RELOCATION' | 'ERR_BPFMAP_OBJECT_KSYM' = 'ERR_BPFMAP_OBJECT_RELOCATION', symbol?: string): never => {
    throw new ObjectError(code, message, { program: entry.name, section: fn.section.name, instruction: index, ...(symbol ? { symbol } : {}) });
  };

  for (let next = 0; next < order.length; next++) {
    const fn = order[next] as CodeFunction;
    const at = placed.get(fn) as number;
    const section = fn.section;
    const sectionInstructions = context.instructionsOf?.(section) ?? section.instructions;
    const source = new DataView(sectionInstructions.buffer, sectionInstructions.byteOffset, sectionInstructions.byteLength);
    for (let i = 0; i < fn.count; i++) {
      const index = fn.start + i;
      const byteAt = index * INSTRUCTION_SIZE;
      const opcode = sectionInstructions[byteAt];
      const srcReg = (sectionInstructions[byteAt + 1] ?? 0) >> 4;
      const imm = source.getInt32(byteAt + 4, true);
      const relocation = section.relocations.get(index);
      const position = at + i;
      const isLoad = opcode === OPCODE_LD_IMM64;
      if (isLoad && i + 1 >= fn.count) fail(fn, index, 'a 64-bit load is cut off by the end of the function');

      let target: { section: CodeSection; index: number; isCallback: boolean } | undefined;
      if (relocation?.kind === 'call') {
        const targetSection = context.code.get(relocation.symbol.section);
        if (!targetSection) fail(fn, index, `call to '${relocation.symbol.name}' in a section without code`);
        target = { section: targetSection as CodeSection, index: relocation.symbol.value / INSTRUCTION_SIZE + imm + 1, isCallback: false };
      } else if (relocation?.kind === 'func') {
        const targetSection = context.code.get(relocation.symbol.section);
        if (!targetSection) fail(fn, index, `address of '${relocation.symbol.name}' in a section without code`);
        if ((relocation.symbol.value + imm) % INSTRUCTION_SIZE) fail(fn, index, `address of '${relocation.symbol.name}' is not at an instruction`);
        target = { section: targetSection as CodeSection, index: (relocation.symbol.value + imm) / INSTRUCTION_SIZE, isCallback: true };
      } else if (!relocation && opcode === OPCODE_CALL && srcReg === PseudoSource.CALL) {
        // A call to a static function of the same section needs no relocation: imm is relative.
        target = { section, index: index + imm + 1, isCallback: false };
      }

      if (target) {
        const callee = functionAt(target.section, target.index);
        if (!callee) fail(fn, index, `${target.isCallback ? 'callback' : 'call'} target, instruction ${target.index} of '${target.section.name}', is in no function`);
        const calleeFn = callee as CodeFunction;
        if (!placed.has(calleeFn)) {
          placed.set(calleeFn, total);
          order.push(calleeFn);
          total += calleeFn.count;
        }
        const offsetInCallee = target.index - calleeFn.start;
        const isCallback = target.isCallback;
        fixups.push({
          position,
          apply: (view, bytes) => {
            const destination = (placed.get(calleeFn) as number) + offsetInCallee;
            view.setInt32(position * INSTRUCTION_SIZE + 4, destination - position - 1, true);
            if (isCallback) {
              const regs = bytes[position * INSTRUCTION_SIZE + 1] ?? 0;
              bytes[position * INSTRUCTION_SIZE + 1] = (regs & 0x0f) | (PseudoSource.FUNC << 4);
            }
          },
        });
      } else if (relocation) {
        switch (relocation.kind) {
          case 'map': {
            const mapAt = mapIndex(relocation.map);
            fixups.push({ position, apply: (view, bytes) => setMapReference(view, bytes, position, PseudoSource.MAP_IDX, mapAt) });
            break;
          }
          case 'data': {
            const mapAt = mapIndex(relocation.map);
            const offset = relocation.offset + imm;
            fixups.push({ position, apply: (view, bytes) => {
              setMapReference(view, bytes, position, PseudoSource.MAP_IDX_VALUE, mapAt);
              view.setInt32((position + 1) * INSTRUCTION_SIZE + 4, offset, true);
            } });
            break;
          }
          case 'kconfig': {
            const offset = context.kconfigOffset(relocation.name);
            if (offset === undefined) fail(fn, index, `kconfig extern '${relocation.name}' has no place in the .kconfig map`, 'ERR_BPFMAP_OBJECT_KSYM', relocation.name);
            const mapAt = mapIndex('.kconfig');
            fixups.push({ position, apply: (view, bytes) => {
              setMapReference(view, bytes, position, PseudoSource.MAP_IDX_VALUE, mapAt);
              view.setInt32((position + 1) * INSTRUCTION_SIZE + 4, offset as number, true);
            } });
            break;
          }
          case 'ksym': {
            const resolve = context.resolveKsym;
            if (!resolve) {
              fail(fn, index, `kernel symbol extern '${relocation.name}' (${relocation.call ? 'a kfunc call' : 'a __ksym variable'}) is not supported by this loader yet`, 'ERR_BPFMAP_OBJECT_KSYM', relocation.name);
            }
            const { name, call, weak } = relocation;
            const where = { program: entry.name, section: section.name, instruction: index };
            fixups.push({ position, apply: (_view, bytes) => (resolve as NonNullable<LinkContext['resolveKsym']>)(bytes, position, name, call, weak, fdArrayIndex, where) });
            break;
          }
          case 'unsupported':
            fail(fn, index, `unsupported relocation: ${relocation.reason}`, 'ERR_BPFMAP_OBJECT_RELOCATION', relocation.symbol);
            break;
          default:
            break;
        }
      }
      if (isLoad) i++;
    }
  }

  const instructions = new Uint8Array(total * INSTRUCTION_SIZE);
  for (const fn of order) {
    const start = fn.start * INSTRUCTION_SIZE;
    const from = context.instructionsOf?.(fn.section) ?? fn.section.instructions;
    instructions.set(from.subarray(start, start + fn.count * INSTRUCTION_SIZE), (placed.get(fn) as number) * INSTRUCTION_SIZE);
  }
  const view = new DataView(instructions.buffer);
  for (const fixup of fixups) fixup.apply(view, instructions);
  return { instructions, placements: order.map((fn) => ({ fn, at: placed.get(fn) as number })), maps };
}

function setMapReference(view: DataView, bytes: Uint8Array, position: number, source: number, index: number): void {
  const at = position * INSTRUCTION_SIZE;
  bytes[at + 1] = ((bytes[at + 1] ?? 0) & 0x0f) | (source << 4);
  view.setInt32(at + 4, index, true);
}

/** The func_info / line_info runs of a linked program, for `programExtInfo`. */
export function placedRanges(linked: LinkedProgram, sectionRecords: (name: string) => PlacedRange['section'] | undefined): PlacedRange[] {
  const ranges: PlacedRange[] = [];
  for (const { fn, at } of linked.placements) {
    const section = sectionRecords(fn.section.name);
    if (section) ranges.push({ section, start: fn.start, count: fn.count, at });
  }
  return ranges;
}
