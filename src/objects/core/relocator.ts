/**
 * `CoreRelocator`: applies an object's CO-RE relocations to program instructions against the
 * running kernel's BTF (or any target BTF), apart from loading, the way cilium/ebpf's
 * `btf/core.go` and libbpf's `bpf_core_calc_relo_insn` do:
 *
 * 1. parse the access string against the local type (`spec.ts`);
 * 2. find kernel candidates by essential name in vmlinux, and only when vmlinux has none in the
 *    loaded modules (`candidates.ts`);
 * 3. match the access in each candidate; every matching candidate must give the same bit offset
 *    and the same value (else the relocation is ambiguous and refused); candidates that do not
 *    match are dropped for later relocations of the same local type, as libbpf does;
 * 4. compute the value (`calculate.ts`) and write it, or poison the instruction when the kernel
 *    lacks what it reads (`patch.ts`).
 *
 * One relocator per object: it caches candidates per local type across programs.
 */
import type { Btf } from '../../codec/btf/btf.js';
import { BtfError } from '../../codec/btf/errors.js';
import type { CoreRelocationKind, CoreRelocationRecord } from '../btf-ext.js';
import { calculate, type CoreCalculation } from './calculate.js';
import { findCandidates, moduleTargets, vmlinuxTarget, type CoreCandidate, type CoreTargetBtf } from './candidates.js';
import { CoreFailure, CoreRelocationError, type CoreRelocationPlace } from './errors.js';
import { patchInstruction } from './patch.js';
import { formatSpec, matchSpec, parseSpec, type CoreSpec } from './spec.js';

/** Options of `CoreRelocator`. */
export interface CoreRelocatorOptions {
  /** The BTF to relocate against (default: the running kernel's vmlinux BTF). */
  readonly target?: CoreTargetBtf;
  /**
   * Where to look when the target has no candidate for a type: module BTF (default: every module
   * under /sys/kernel/btf when `target` is not given, none when it is).
   */
  readonly modules?: () => readonly CoreTargetBtf[];
}

/** Where the instructions come from, for errors. */
export interface CoreRelocationContext {
  readonly program?: string;
  readonly section?: string;
}

/** What one relocation did. */
export interface AppliedCoreRelocation {
  /** Instruction index within the instructions given. */
  readonly insn: number;
  readonly kind: CoreRelocationKind;
  readonly accessString: string;
  readonly localTypeId: number;
  /** Value clang wrote. */
  readonly original: bigint;
  /** Value written (0 when poisoned). */
  readonly value: bigint;
  /** True when the instruction became `call 0xbad2310`. */
  readonly poisoned: boolean;
  /**
   * The kernel type the value came from, when a candidate matched, and the matched access
   * (`formatSpec(target.spec)` prints it as libbpf's debug log does).
   */
  readonly target: { readonly btf: string; readonly typeId: number; readonly spec: CoreSpec } | undefined;
}

/**
 * Applies CO-RE relocations to program instructions.
 *
 * @example
 * const relocator = new CoreRelocator(objectBtf);                  // against /sys/kernel/btf/vmlinux
 * const records = coreRelocationsIn(ext.sections.get(section)!, start, count);
 * relocator.apply(instructions, records, { program: 'handle_exec', section });
 */
export class CoreRelocator {
  readonly localBtf: Btf;
  private readonly target: CoreTargetBtf | undefined;
  private readonly modules: (() => readonly CoreTargetBtf[]) | undefined;
  private loadedModules: readonly CoreTargetBtf[] | undefined;
  /** Candidates per local root type id, pruned as relocations reject them. */
  private readonly candidates = new Map<number, CoreCandidate[]>();
  /** How many times each local type's candidates were pruned: a resolution holds while this has not changed. */
  private readonly prunings = new Map<number, number>();
  /**
   * Resolutions by local type, kind and access string: objects repeat the same relocation in
   * every program that reads the same field (the same `BPF_CORE_READ` in 40 programs), and each
   * resolution depends only on those and on the candidates, so it is reused until they are pruned.
   */
  private readonly resolutions = new Map<string, { readonly resolution: ReturnType<CoreRelocator['resolveAnew']>; readonly prunings: number }>();

  constructor(localBtf: Btf, options: CoreRelocatorOptions = {}) {
    this.localBtf = localBtf;
    this.target = options.target;
    this.modules = options.modules ?? (options.target ? undefined : moduleTargets);
  }

  /**
   * Patches `instructions` (8-byte little-endian instructions, modified in place) for each record,
   * whose `insn` indexes these instructions. Returns what each relocation did, in record order.
   * @throws RangeError (`ERR_BPFMAP_CORE_INSTRUCTIONS`) when the buffer is not whole instructions
   * or a record points past it.
   * @throws CoreRelocationError when a relocation can be neither applied nor poisoned (nothing
   * after it is patched; earlier ones are).
   */
  apply(instructions: Uint8Array, records: readonly CoreRelocationRecord[], context: CoreRelocationContext = {}): AppliedCoreRelocation[] {
    if (instructions.length % 8 !== 0) {
      throw Object.assign(new RangeError(`instructions must be whole 8-byte instructions, got ${instructions.length} bytes`), { code: 'ERR_BPFMAP_CORE_INSTRUCTIONS' });
    }
    const count = instructions.length / 8;
    const applied: AppliedCoreRelocation[] = [];
    for (const record of records) {
      if (!Number.isInteger(record.insn) || record.insn < 0 || record.insn >= count) {
        throw Object.assign(new RangeError(`CO-RE relocation at instruction ${record.insn} is outside the program's ${count} instructions${context.program ? ` ('${context.program}')` : ''}`), { code: 'ERR_BPFMAP_CORE_INSTRUCTIONS' });
      }
      const place: CoreRelocationPlace = {
        program: context.program,
        section: context.section,
        instruction: record.insn,
        kind: record.kind,
        localType: this.describeLocal(record.typeId),
        accessString: record.accessString,
      };
      try {
        const { result, target } = this.resolve(record);
        const outcome = patchInstruction(instructions, record.insn, result);
        applied.push({
          insn: record.insn,
          kind: record.kind,
          accessString: record.accessString,
          localTypeId: record.typeId,
          original: result.original,
          value: outcome === 'poisoned' ? 0n : result.value,
          poisoned: outcome === 'poisoned',
          target,
        });
      } catch (error) {
        if (error instanceof CoreFailure) throw new CoreRelocationError(error.code, place, error.message);
        if (error instanceof BtfError) throw new CoreRelocationError('ERR_BPFMAP_CORE_BAD_RELOCATION', place, error.message, error);
        throw error;
      }
    }
    return applied;
  }

  private describeLocal(typeId: number): string {
    try {
      const type = this.localBtf.type(typeId);
      return type.name ? `${type.kind} ${type.name}` : `anonymous ${type.kind} [${typeId}]`;
    } catch {
      return `type [${typeId}]`;
    }
  }

  private vmlinux(): CoreTargetBtf {
    return this.target ?? vmlinuxTarget();
  }

  private candidatesFor(localId: number): CoreCandidate[] {
    let found = this.candidates.get(localId);
    if (found) return found;
    found = findCandidates(this.localBtf, localId, this.vmlinux());
    if (found.length === 0 && this.modules) {
      this.loadedModules ??= this.modules();
      for (const module of this.loadedModules) found.push(...findCandidates(this.localBtf, localId, module));
    }
    this.candidates.set(localId, found);
    return found;
  }

  private resolve(record: CoreRelocationRecord): { result: CoreCalculation; target: AppliedCoreRelocation['target'] } {
    const key = `${record.typeId}:${record.kind}:${record.accessString}`;
    const prunings = this.prunings.get(record.typeId) ?? 0;
    const known = this.resolutions.get(key);
    if (known && known.prunings === prunings) return known.resolution;
    const resolution = this.resolveAnew(record);
    // Keyed by the pruning count before this resolution: one that pruned is resolved again next time.
    this.resolutions.set(key, { resolution, prunings });
    return resolution;
  }

  private resolveAnew(record: CoreRelocationRecord): { result: CoreCalculation; target: AppliedCoreRelocation['target'] } {
    const local = parseSpec(this.localBtf, record.typeId, record.accessString, record.kind);
    if (record.kind === 'type_id_local') {
      // Never looked up in the kernel; the id may have changed when objects were linked.
      const id = BigInt(record.typeId);
      return { result: { original: id, value: id, poison: false, validate: false, originalSize: 0, newSize: 0, failMemorySizeAdjust: false }, target: undefined };
    }
    if (this.localBtf.type(record.typeId).name === '') {
      throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'relocations of anonymous types are not supported (libbpf refuses them too)');
    }
    const candidates = this.candidatesFor(record.typeId);
    const kept: CoreCandidate[] = [];
    let chosen: { result: CoreCalculation; spec: CoreSpec; candidate: CoreCandidate } | undefined;
    for (const candidate of candidates) {
      const spec = matchSpec(local, candidate.target.btf, candidate.id);
      if (!spec) continue;
      const result = calculate(record.kind, local, spec);
      if (!chosen) {
        chosen = { result, spec, candidate };
      } else if (spec.bitOffset !== chosen.spec.bitOffset) {
        throw new CoreFailure('ERR_BPFMAP_CORE_AMBIGUOUS', `kernel candidates disagree on the field's offset: ${formatSpec(chosen.spec)} in ${chosen.candidate.target.name} [${chosen.candidate.id}] vs ${formatSpec(spec)} in ${candidate.target.name} [${candidate.id}]`);
      } else if (result.poison !== chosen.result.poison || result.value !== chosen.result.value) {
        throw new CoreFailure('ERR_BPFMAP_CORE_AMBIGUOUS', `kernel candidates disagree: [${chosen.candidate.id}] gives ${chosen.result.value}, [${candidate.id}] gives ${result.value}`);
      }
      kept.push(candidate);
    }
    if (kept.length > 0 && kept.length < candidates.length) {
      // Later relocations of this local type only consider the candidates that matched.
      candidates.length = 0;
      candidates.push(...kept);
      this.prunings.set(record.typeId, (this.prunings.get(record.typeId) ?? 0) + 1);
    }
    if (!chosen) return { result: calculate(record.kind, local, undefined), target: undefined };
    return { result: chosen.result, target: { btf: chosen.candidate.target.name, typeId: chosen.candidate.id, spec: chosen.spec } };
  }
}
