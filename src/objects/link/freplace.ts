/**
 * freplace: an extension program (`SEC("freplace/FUNC")`, type ext) replacing a global function
 * of another loaded program. The program is loaded against its target (see
 * `ProgramSpec.setAttachTarget`); attaching links it in, and closing the link puts the original
 * function back.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import { ProgramType } from '../../sys/program-types.js';
import { btfFromId } from '../../codec/btf/sources.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError } from './errors.js';
import { Link, linkOrThrow, subjectOf } from './link.js';

/** Where an freplace program goes. */
export interface FreplaceOptions {
  /**
   * The program whose function to replace. Left out: the one the program was loaded against
   * (the kernel allows that once per load; a second link needs the target named).
   */
  readonly target?: BpfProgram;
  /** The global function of `target` to replace; defaults to the one the section names (`freplace/FUNC`). */
  readonly function?: string;
}

/** The id of global function `name` in a program's BTF. */
function functionId(program: BpfProgram, target: BpfProgram, name: string): number {
  const subject = subjectOf(program, 'freplace', `${target.name}:${name}`);
  const btfId = target.info().btfId;
  if (!btfId) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `program '${target.name}' was loaded without BTF, so none of its functions can be replaced`);
  const [func] = btfFromId(btfId).btf.typesByName(name, 'func');
  if (!func) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `program '${target.name}' has no function '${name}' in its BTF (only global, non-inlined functions can be replaced)`);
  return func.id;
}

/**
 * Attaches an freplace program.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_SYMBOL` when the target has no such function, or the
 *   kernel's refusal (EINVAL: the function's prototype differs or the target is another
 *   program than the one loaded against and the types do not match; EBUSY: replaced already).
 *
 * @example
 * const spec = BpfObject.open('ext.bpf.o');
 * spec.program('new_pick').setAttachTarget(main.program('xdp_main'), 'pick');
 * using ext = spec.load();
 * using link = attachFreplace(ext.program('new_pick'));
 */
export function attachFreplace(program: BpfProgram, options: FreplaceOptions = {}): Link {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachFreplace: options must be { target?, function? }');
  if (program.type !== ProgramType.ext) {
    throw argumentError(TypeError, 'ERR_BPFMAP_PROGRAM_TYPE', `attachFreplace takes freplace (ext) programs; '${program.name}' is of type ${program.typeName}`);
  }
  const sectionFunction = program.sectionName?.includes('/') ? program.sectionName.slice(program.sectionName.indexOf('/') + 1) : undefined;
  const name = options.function ?? sectionFunction;
  const target = options.target;
  if (target !== undefined && !name) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `attachFreplace: name the function of '${target.name}' to replace (options.function)`);
  const subject = subjectOf(program, 'freplace', target ? `${target.name}:${name ?? ''}` : name);
  const result = target
    ? native.linkCreateFreplace(program.handle, target.handle, functionId(program, target, name as string))
    : native.linkCreateFreplace(program.handle, null, 0);
  return linkOrThrow(result, subject, 'BPF_LINK_CREATE (freplace)', 'LINK_CREATE', (errno) =>
    errno === Errno.EINVAL && !target
      ? 'the load-time target was used by an earlier link already: pass options.target and options.function'
      : errno === Errno.EINVAL
        ? "the function's prototype differs from the extension's, or it is not a global function"
        : errno === Errno.EBUSY
          ? 'the function is replaced by another program already'
          : undefined,
  );
}
