/**
 * ksym externs: kernel symbols an object declares with `__ksym` and the loader must fill in, as
 * libbpf resolves them:
 *
 * - typed variables (`extern const struct rq runqueues __ksym;`): the BTF id of the kernel's VAR of
 *   that name, whose type must be CO-RE compatible with the declared one; `ld_imm64` gets
 *   `src_reg = 3` (BPF_PSEUDO_BTF_ID), `imm = id`, second half 0 (vmlinux);
 * - typeless variables (`extern const void _stext __ksym;`): the address from /proc/kallsyms,
 *   written as the 64-bit immediate; two different addresses for one name are refused;
 * - kfuncs (`extern void bpf_rcu_read_lock(void) __ksym;`): the BTF id of the kernel FUNC of that
 *   (essential) name, with a compatible prototype; `call` gets `src_reg = 2` (BPF_PSEUDO_KFUNC_CALL),
 *   `imm = id`; an `ld_imm64` of a kfunc's address (`if (&kfunc)`) gets the BTF id like a typed
 *   variable;
 * - `__weak` externs the kernel lacks resolve to 0, and a call to a missing weak kfunc is poisoned
 *   (`call 2002000000 + index`), as current libbpf does, so the verifier must prove it dead.
 *
 * Symbols found only in a module's BTF are refused for now: they need the module's BTF fd in the
 * program's fd_array.
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../codec/btf/btf.js';
import { BtfError } from '../codec/btf/errors.js';
import type { BtfType } from '../codec/btf/types.js';
import { kernelBtf } from '../codec/btf/sources.js';
import { moduleTargets, type CoreTargetBtf } from './core/candidates.js';
import { essentialName, typesAreCompatible } from './core/compat.js';
import { CoreFailure } from './core/errors.js';
import { ObjectError } from './errors.js';

/** Where the kernel lists its symbols. */
export const KALLSYMS_PATH = '/proc/kallsyms';
/** libbpf's base for poisoned calls to missing weak kfuncs (the extern's index is added). */
export const POISON_CALL_KFUNC_BASE = 2002000000;

const OPCODE_CALL = 0x85;
const OPCODE_LD_IMM64 = 0x18;
const PSEUDO_BTF_ID = 3;
const PSEUDO_KFUNC_CALL = 2;

/** What a ksym extern resolved to. */
export type KsymResolution =
  /**
   * A typed variable or a kfunc: its BTF id in vmlinux, or (kfuncs) in the BTF of the module
   * named by `module`, which the program then needs in its fd_array.
   */
  | { readonly kind: 'btf'; readonly name: string; readonly declared: 'var' | 'func'; readonly btfId: number; readonly module?: string }
  /** A typeless variable: its address (0 for a missing `__weak` one). */
  | { readonly kind: 'address'; readonly name: string; readonly address: bigint }
  /** A `__weak` typed variable or kfunc the kernel lacks: reads as 0, calls are poisoned. */
  | { readonly kind: 'missing'; readonly name: string; readonly declared: 'var' | 'func' };

/** How the loader names the extern it asks about. */
export interface KsymRequest {
  /** The symbol's name as the object declares it. */
  readonly name: string;
  /** `__weak` (ELF binding WEAK): a missing symbol resolves to 0 instead of failing. */
  readonly weak: boolean;
  /** The program being relocated, for errors. */
  readonly program?: string;
  /** The section and instruction (counted in the section) that refer to the symbol, for errors. */
  readonly section?: string;
  readonly instruction?: number;
}

/** Options of `KsymResolver`. */
export interface KsymResolverOptions {
  /** The kernel BTF (default: the running kernel's). */
  readonly vmlinux?: Btf;
  /** Module BTF, searched when vmlinux lacks a symbol (default: every loaded module's). */
  readonly modules?: () => readonly CoreTargetBtf[];
  /** The kallsyms file (default /proc/kallsyms). */
  readonly kallsymsPath?: string;
}

/**
 * Resolves an object's `__ksym` externs against the running kernel; one per object (it caches
 * results and reads /proc/kallsyms at most once, only when a typeless extern needs it).
 *
 * @example
 * const ksyms = new KsymResolver(objectBtf);
 * const resolution = ksyms.resolve({ name: 'bpf_rcu_read_lock', weak: false, program: 'handler' });
 * applyKsym(instructions, insnIndex, resolution, { program: 'handler' });
 */
export class KsymResolver {
  readonly objectBtf: Btf;
  private readonly options: KsymResolverOptions;
  private readonly resolved = new Map<string, KsymResolution>();
  private kallsyms: Map<string, bigint | readonly [bigint, bigint]> | undefined;
  private modules: readonly CoreTargetBtf[] | undefined;

  constructor(objectBtf: Btf, options: KsymResolverOptions = {}) {
    this.objectBtf = objectBtf;
    this.options = options;
  }

  /**
   * Resolves one extern.
   * @throws ObjectError (`ERR_BPFMAP_OBJECT_KSYM`) naming the symbol and program when a non-weak
   * symbol is missing, its kernel type is incompatible, it is ambiguous in kallsyms, it is only in
   * a module, or the object's BTF does not declare it.
   */
  resolve(request: KsymRequest): KsymResolution {
    const cached = this.resolved.get(request.name);
    if (cached) return cached;
    const fail = (message: string, cause?: unknown): ObjectError =>
      new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `extern '${request.name}' (__ksym): ${message}`, {
        symbol: request.name,
        ...(request.program !== undefined ? { program: request.program } : {}),
        ...(request.section !== undefined ? { section: request.section } : {}),
        ...(request.instruction !== undefined ? { instruction: request.instruction } : {}),
      }, cause === undefined ? undefined : { cause });
    let resolution: KsymResolution;
    try {
      resolution = this.resolveUncached(request, fail);
    } catch (error) {
      if (error instanceof ObjectError) throw error;
      if (error instanceof BtfError || error instanceof CoreFailure) throw fail(error.message, error);
      throw error;
    }
    this.resolved.set(request.name, resolution);
    return resolution;
  }

  private resolveUncached(request: KsymRequest, fail: (message: string) => ObjectError): KsymResolution {
    const { name, weak } = request;
    const declaration = this.declaration(name);
    if (!declaration) throw fail('the object\'s BTF declares no variable or function of that name in .ksyms (build with clang -g)');
    const vmlinux = this.options.vmlinux ?? kernelBtf();
    if (declaration.kind === 'func') {
      const localProto = declaration.type;
      const wanted = essentialName(name);
      const kernel = vmlinux.typesByName(wanted, 'func')[0];
      if (!kernel) {
        // A module's kfunc: its id in the module's split BTF (libbpf's find_ksym_btf_id).
        const inModule = this.inModules(wanted, 'func');
        if (inModule) {
          const { module, type } = inModule;
          if (!typesAreCompatible(this.objectBtf, localProto, module.btf, type.type)) {
            if (weak) return { kind: 'missing', name, declared: 'func' };
            throw fail(`the declared prototype is incompatible with module '${module.name}' ${type.name} [${type.id}]`);
          }
          return { kind: 'btf', name, declared: 'func', btfId: type.id, module: module.name };
        }
        if (weak) return { kind: 'missing', name, declared: 'func' };
        throw fail(`no kernel function '${wanted}' in vmlinux or module BTF (is the kfunc in this kernel, its module loaded?)`);
      }
      if (!typesAreCompatible(this.objectBtf, localProto, vmlinux, kernel.type)) {
        if (weak) return { kind: 'missing', name, declared: 'func' };
        throw fail(`the declared prototype is incompatible with the kernel's ${kernel.name} [${kernel.id}]`);
      }
      return { kind: 'btf', name, declared: 'func', btfId: kernel.id };
    }
    if (declaration.kind !== 'var') throw fail(`declared as a ${declaration.kind}, expected a variable or a function`);
    const localType = this.objectBtf.resolve(declaration.type);
    if (localType.kind === 'void') {
      const address = this.kallsymsAddress(name, fail);
      if (address === undefined) {
        if (weak) return { kind: 'address', name, address: 0n };
        throw fail(`not in ${this.options.kallsymsPath ?? KALLSYMS_PATH}`);
      }
      return { kind: 'address', name, address };
    }
    const kernel = vmlinux.typesByName(name, 'var')[0];
    if (!kernel) {
      this.refuseModule(name, 'var', fail);
      if (weak) return { kind: 'missing', name, declared: 'var' };
      throw fail('no kernel variable of that name in vmlinux BTF (only per-CPU variables are there)');
    }
    const kernelType = vmlinux.resolve(kernel.type);
    if (!typesAreCompatible(this.objectBtf, localType.id, vmlinux, kernelType.id)) {
      throw fail(`declared as ${describe(localType)}, but the kernel's is ${describe(kernelType)}`);
    }
    return { kind: 'btf', name, declared: 'var', btfId: kernel.id };
  }

  /** The VAR or FUNC the object declares for an extern: in the `.ksyms` DATASEC, else any extern of that name. */
  private declaration(name: string): BtfType | undefined {
    const btf = this.objectBtf;
    for (const section of btf.typesByName('.ksyms', 'datasec')) {
      for (const entry of section.vars) {
        const type = btf.type(entry.type);
        if ((type.kind === 'var' || type.kind === 'func') && type.name === name) return type;
      }
    }
    return btf.typesByName(name).find((t) => (t.kind === 'var' || t.kind === 'func') && t.linkage === 2);
  }

  /** The first loaded module whose own BTF (not its vmlinux base) has `name` of `kind`. */
  private inModules(name: string, kind: 'var' | 'func'): { module: CoreTargetBtf; type: BtfType & { readonly type: number } } | undefined {
    this.modules ??= (this.options.modules ?? moduleTargets)();
    for (const module of this.modules) {
      const found = module.btf.typesByName(name, kind).find((t) => t.id >= module.btf.firstTypeId);
      if (found) return { module, type: found };
    }
    return undefined;
  }

  private refuseModule(name: string, kind: 'var', fail: (message: string) => ObjectError): void {
    const found = this.inModules(name, kind);
    // The kernel reads a typed variable's BTF object from an fd number inside the instruction,
    // which this loader never writes (the addon owns every fd): module kfuncs go through fd_array.
    if (found) throw fail(`found only in module '${found.module.name}' BTF [${found.type.id}]; typed ksym variables of modules are not supported (kfuncs of modules are)`);
  }

  private kallsymsAddress(name: string, fail: (message: string) => ObjectError): bigint | undefined {
    this.kallsyms ??= readKallsyms(this.options.kallsymsPath ?? KALLSYMS_PATH);
    const entry = this.kallsyms.get(name);
    if (entry === undefined || typeof entry === 'bigint') return entry;
    throw fail(`ambiguous in kallsyms: 0x${entry[0].toString(16)} or 0x${entry[1].toString(16)}`);
  }
}

function describe(type: BtfType): string {
  return `${type.kind} ${type.name || '<anon>'} [${type.id}]`;
}

/**
 * Reads kallsyms: name → address, or the first two addresses when a name has several. Data
 * symbols clang suffixed with `.llvm.<hash>` are found by their plain name, as libbpf does.
 */
function readKallsyms(path: string): Map<string, bigint | readonly [bigint, bigint]> {
  const symbols = new Map<string, bigint | readonly [bigint, bigint]>();
  const text = readFileSync(path, 'latin1');
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const firstSpace = text.indexOf(' ', start);
    if (firstSpace > start && firstSpace + 3 < end) {
      const type = text[firstSpace + 1];
      const nameStart = firstSpace + 3;
      let nameEnd = nameStart;
      while (nameEnd < end && text[nameEnd] !== '\t' && text[nameEnd] !== ' ') nameEnd++;
      let name = text.slice(nameStart, nameEnd);
      const llvm = name.indexOf('.llvm.');
      if (type === 'd' && llvm > 0) name = name.slice(0, llvm);
      const address = BigInt(`0x${text.slice(start, firstSpace)}`);
      const known = symbols.get(name);
      if (known === undefined) symbols.set(name, address);
      else if (typeof known === 'bigint' && known !== address) symbols.set(name, [known, address]);
    }
    start = end + 1;
  }
  return symbols;
}

/** Where an instruction is, for errors. */
export interface KsymPlace {
  readonly program?: string;
  /** A module kfunc's call: the fd_array index of the module's BTF, written to `insn.off` (1 or more). */
  readonly fdArrayIndex?: number;
  /** libbpf's extern index, added to the poison constant of a missing weak kfunc's call. */
  readonly externIndex?: number;
}

/**
 * Writes a resolved extern into the instruction that refers to it (`call` or `ld_imm64`; little-endian,
 * in place).
 * @throws ObjectError (`ERR_BPFMAP_OBJECT_RELOCATION`) when the instruction is neither, or does not fit the symbol.
 */
export function applyKsym(instructions: Uint8Array, insn: number, resolution: KsymResolution, place: KsymPlace = {}): void {
  const at = insn * 8;
  const where = { symbol: resolution.name, instruction: insn, ...(place.program !== undefined ? { program: place.program } : {}) };
  if (!Number.isInteger(insn) || insn < 0 || at + 8 > instructions.length) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `ksym instruction ${insn} is outside the program's ${Math.floor(instructions.length / 8)} instructions`, where);
  }
  const view = new DataView(instructions.buffer, instructions.byteOffset, instructions.byteLength);
  const code = view.getUint8(at);
  const setSource = (source: number): void => view.setUint8(at + 1, (view.getUint8(at + 1) & 0x0f) | (source << 4));
  if (code === OPCODE_CALL) {
    if (resolution.kind === 'btf' && resolution.declared === 'func') {
      let off = 0;
      if (resolution.module !== undefined) {
        off = place.fdArrayIndex ?? 0;
        // off 0 means vmlinux to the kernel: a module's BTF sits at index 1 or later.
        if (!Number.isInteger(off) || off < 1 || off > 0x7fff) {
          throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `kfunc '${resolution.name}' of module '${resolution.module}' needs the module BTF's fd_array index (1 to 32767), got ${String(place.fdArrayIndex)}`, where);
        }
      }
      setSource(PSEUDO_KFUNC_CALL);
      view.setInt16(at + 2, off, true);
      view.setInt32(at + 4, resolution.btfId, true);
      return;
    }
    if (resolution.kind === 'missing' && resolution.declared === 'func') {
      view.setUint8(at + 1, 0);
      view.setInt16(at + 2, 0, true);
      view.setInt32(at + 4, POISON_CALL_KFUNC_BASE + (place.externIndex ?? 0), true);
      return;
    }
    throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `a call to '${resolution.name}', which is not a kernel function`, where);
  }
  if (code !== OPCODE_LD_IMM64 || at + 16 > instructions.length) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `instruction 0x${code.toString(16)} refers to ksym '${resolution.name}', expected ld_imm64 or call`, where);
  }
  if (resolution.kind === 'btf') {
    setSource(PSEUDO_BTF_ID);
    view.setInt32(at + 4, resolution.btfId, true);
    view.setInt32(at + 12, 0, true); // vmlinux: no BTF object fd
    return;
  }
  const address = resolution.kind === 'address' ? resolution.address : 0n;
  view.setUint32(at + 4, Number(address & 0xffffffffn), true);
  view.setUint32(at + 12, Number((address >> 32n) & 0xffffffffn), true);
}
