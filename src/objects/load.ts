/**
 * Loading an `ObjectSpec`: the object's BTF into the kernel, its maps created (or reused from
 * pins, or replaced by the caller's), global data written and `.rodata` frozen, initial slots of
 * maps-in-maps and prog_arrays filled, and each program linked and loaded, with the verifier's
 * log in the error when it refuses one.
 */
import { closeSync } from 'node:fs';
import path from 'node:path';
import { native, NativeKind, nativeObject, type NativeObject } from '../sys/native.js';
import { BpfError, Errno, errnoName, argumentError } from '../sys/errors.js';
import { MapType, mapTypeName } from '../sys/constants.js';
import { idAttr, progLoadAttr, StructBuffer } from '../sys/layout.js';
import { Command } from '../sys/commands.js';
import { possibleCpus } from '../sys/cpus.js';
import { loadBtfIntoKernel } from '../codec/btf/load.js';
import { kernelBtf } from '../codec/btf/sources.js';
import { BpfMap } from '../map/bpf-map.js';
import type { MapSpec } from '../map/spec.js';
import { PinMismatchError, isNotPinned, pinDifferences } from '../map/pinned.js';
import { encodeFuncInfo, encodeLineInfo, programExtInfo } from './btf-ext.js';
import { ObjectError, VerifierError } from './errors.js';
import { kconfigValue } from './kconfig.js';
import type { ObjectMapSpec } from './map-spec.js';
import type { ObjectSpec } from './object-spec.js';
import type { ProgramSpec } from './program-spec.js';
import { BpfProgram } from './program.js';
import { linkProgram, placedRanges, type LinkContext } from './relocate.js';
import { CoreRelocator } from './core/relocator.js';
import { KsymResolver, applyKsym } from './ksym.js';
import type { CodeSection } from './program-spec.js';
import { BpfObject, type LoadOptions } from './object.js';
import { layoutStructOps } from './struct-ops.js';
import { mapArena } from './arena.js';
import { btfFromHandle, btfFromId } from '../codec/btf/sources.js';
import { AttachType, ProgramType } from '../sys/program-types.js';

/** Where libbpf pins maps with `LIBBPF_PIN_BY_NAME` when no folder is given. */
export const DEFAULT_PIN_PATH = '/sys/fs/bpf';
/** Map types libbpf creates without BTF key/value types (the kernel refuses or ignores them). */
const NO_BTF_TYPES = new Set<number>([
  MapType.perf_event_array, MapType.cgroup_array, MapType.stack_trace, MapType.array_of_maps, MapType.hash_of_maps,
  MapType.devmap, MapType.devmap_hash, MapType.cpumap, MapType.xskmap, MapType.sockmap, MapType.sockhash,
  MapType.queue, MapType.stack, MapType.arena,
]);
const FIRST_LOG_SIZE = 1 << 16;
const MAX_LOG_SIZE = 1 << 28;
const PROGRAM_NAME_LENGTH = 15;
const u32Key = (index: number): Uint8Array => new Uint8Array(new Uint32Array([index]).buffer);

/** Creates one map from its spec, with BTF when the kernel takes it (libbpf's retry without it). */
function createMap(spec: ObjectMapSpec, btfFd: number | undefined, inner: BpfMap<unknown, unknown> | undefined): BpfMap<unknown, unknown> {
  const base: MapSpec = {
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    // libbpf's map_set_def_max_entries: a perf event array of 0 entries gets one per possible CPU.
    maxEntries: spec.type === MapType.perf_event_array && spec.maxEntries === 0 ? possibleCpus() : spec.maxEntries,
    name: spec.name.slice(0, 15),
    flags: spec.flags,
    ...(spec.mapExtra ? { mapExtra: spec.mapExtra } : {}),
    ...(spec.numaNode ? { numaNode: spec.numaNode } : {}),
    ...(inner ? { innerMap: inner } : {}),
  };
  const withBtf = btfFd !== undefined && !NO_BTF_TYPES.has(spec.type) && (spec.keyTypeId || spec.valueTypeId);
  if (withBtf) {
    try {
      return BpfMap.create({ ...base, btf: { fd: btfFd, keyTypeId: spec.keyTypeId, valueTypeId: spec.valueTypeId } }) as BpfMap<unknown, unknown>;
    } catch (error) {
      if (!(error instanceof BpfError)) throw error;
      // As libbpf: a map type that takes no BTF gets none; any other failure repeats below.
    }
  }
  try {
    return BpfMap.create(base) as BpfMap<unknown, unknown>;
  } catch (error) {
    if (error instanceof BpfError) {
      throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `cannot create the ${mapTypeName(spec.type)} map (key ${spec.keySize} B, value ${spec.valueSize} B, ${spec.maxEntries} entries, flags 0x${spec.flags.toString(16)}): ${error.message}`, { map: spec.name }, { cause: error });
    }
    throw error;
  }
}

/**
 * A struct_ops map: its value type is the kernel's `bpf_struct_ops_<name>` (by vmlinux id, with
 * the object's BTF alongside as the kernel requires); the value is written at attach.
 */
function createStructOpsMap(spec: ObjectSpec, mapSpec: ObjectMapSpec, btfFd: number | undefined): BpfMap<unknown, unknown> {
  const structOps = mapSpec.structOps as NonNullable<ObjectMapSpec['structOps']>;
  if (btfFd === undefined || !spec.btf) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', 'a struct_ops map needs the object\'s BTF loaded in the kernel', { map: mapSpec.name });
  const layout = layoutStructOps(structOps, spec.btf);
  try {
    return BpfMap.create({
      type: MapType.struct_ops, keySize: 4, valueSize: layout.value.length, maxEntries: 1, name: mapSpec.name.slice(0, 15), flags: mapSpec.flags,
      btf: { fd: btfFd, keyTypeId: 0, valueTypeId: 0 }, btfVmlinuxValueTypeId: layout.valueTypeId,
    }) as BpfMap<unknown, unknown>;
  } catch (error) {
    if (error instanceof BpfError) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `cannot create the struct_ops map for struct ${structOps.typeName}: ${error.message}`, { map: mapSpec.name }, { cause: error });
    throw error;
  }
}

/** What a program is loaded against besides its section's own target: struct_ops members, freplace targets. */
interface LoadTarget {
  readonly btfId: number;
  readonly attachType: number;
  readonly object: NativeObject<'prog'> | null;
}

/** Each struct_ops program's kernel struct and member index, from the maps that name it. */
function structOpsTargets(spec: ObjectSpec): Map<string, LoadTarget> {
  const targets = new Map<string, LoadTarget>();
  for (const mapSpec of spec.maps.values()) {
    if (!mapSpec.structOps || !spec.btf) continue;
    const layout = layoutStructOps(mapSpec.structOps, spec.btf);
    for (const slot of layout.slots) {
      const previous = targets.get(slot.program);
      if (previous && (previous.btfId !== layout.kernelTypeId || previous.attachType !== slot.memberIndex)) {
        throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `program '${slot.program}' is used for two different struct_ops members; a program serves one member of one struct type`, { map: mapSpec.name, program: slot.program });
      }
      targets.set(slot.program, { btfId: layout.kernelTypeId, attachType: slot.memberIndex, object: null });
    }
  }
  return targets;
}

/** An freplace program's target: the function's id in the target program's BTF. */
function freplaceTarget(program: ProgramSpec): LoadTarget {
  const target = program.attachProgram;
  if (!target) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_SECTION', `freplace program needs the program it extends: spec.program('${program.name}').setAttachTarget(loadedProgram, '${program.attachTarget || 'function'}')`, { program: program.name, section: program.sectionName });
  }
  const btfId = target.info().btfId;
  if (!btfId) throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `target program '${target.name}' was loaded without BTF, so its functions cannot be replaced`, { program: program.name, section: program.sectionName });
  const { btf } = btfFromId(btfId);
  const [func] = btf.typesByName(program.attachTarget, 'func');
  if (!func) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `target program '${target.name}' has no function '${program.attachTarget}' in its BTF (only global, non-inlined functions can be replaced)`, { program: program.name, section: program.sectionName, symbol: program.attachTarget });
  }
  return { btfId: func.id, attachType: 0, object: target.handle };
}

/** Checks that a map given to `replaceMap` fits the spec. */
function checkReplacement(spec: ObjectMapSpec, map: BpfMap<unknown, unknown>): void {
  const info = map.info;
  const differences = pinDifferences(info, { ...spec, flags: info.flags, mapExtra: info.mapExtra });
  if (differences.length > 0) {
    const list = differences.map((d) => `${d.field} is ${String(d.pinned)} but the object wants ${String(d.wanted)}`).join(', ');
    throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `the replacement map does not fit: ${list}`, { map: spec.name });
  }
}

/** A map ready for the programs: created, reused from a pin, or the caller's replacement. */
interface ReadyMap {
  readonly map: BpfMap<unknown, unknown>;
  /** True when this load created it (so its initial contents and pin are this load's to set). */
  readonly created: boolean;
  /** True when the caller owns it (replaceMap): the object does not close it. */
  readonly borrowed: boolean;
}

function prepareMap(spec: ObjectSpec, key: string, mapSpec: ObjectMapSpec, btfFd: number | undefined, pinRoot: string): ReadyMap {
  if (mapSpec.replacement) {
    checkReplacement(mapSpec, mapSpec.replacement);
    return { map: mapSpec.replacement, created: false, borrowed: true };
  }
  if (mapSpec.pinning === 'byName') {
    const pinPath = path.join(pinRoot, mapSpec.name);
    try {
      const pinned = BpfMap.openPinned(pinPath) as BpfMap<unknown, unknown>;
      const differences = pinDifferences(pinned.info, mapSpec);
      if (differences.length > 0) {
        pinned.close();
        throw new PinMismatchError(pinPath, differences, mapSpec.name);
      }
      return { map: pinned, created: false, borrowed: false };
    } catch (error) {
      if (!isNotPinned(error)) throw error;
    }
  }
  if (mapSpec.structOps) return { map: createStructOpsMap(spec, mapSpec, btfFd), created: true, borrowed: false };
  let inner: BpfMap<unknown, unknown> | undefined;
  if (mapSpec.inner) inner = createMap(mapSpec.inner, undefined, undefined);
  let map: BpfMap<unknown, unknown>;
  try {
    map = createMap(mapSpec, btfFd, inner);
  } finally {
    // The outer map keeps only the inner template's shape.
    inner?.close();
  }
  try {
    // As libbpf: an arena is mapped before any program is loaded, which fixes its user range.
    if (mapSpec.type === MapType.arena) mapArena(map);
    let data = mapSpec.data;
    if (mapSpec.kind === 'kconfig' && spec.kconfig && spec.btf) data = kconfigValue(spec.btf, spec.kconfig.externs, spec.kconfig.size);
    if (data) map.set(u32Key(0), data as never);
    if (mapSpec.readOnlyData) map.freeze();
  } catch (error) {
    map.close();
    throw error;
  }
  void key;
  return { map, created: true, borrowed: false };
}

let uprobeMultiKnown: boolean | undefined;

/**
 * `usdt` programs load for uprobe_multi links where the kernel has them, as libbpf does since
 * 1.4 (one link for every site of a probe): the kernel knows BPF_TRACE_UPROBE_MULTI (Linux 6.6+)
 * when its BTF's `enum bpf_attach_type` names it. Elsewhere they load as plain kprobe-type
 * programs, for uprobe perf links.
 */
function usdtAttachType(program: ProgramSpec): number | undefined {
  if (program.type !== ProgramType.kprobe || !/^usdt(\.s)?(\/|$)/.test(program.sectionName)) return undefined;
  if (uprobeMultiKnown === undefined) {
    try {
      const attachTypes = kernelBtf().typesByName('bpf_attach_type', 'enum');
      uprobeMultiKnown = attachTypes.some((e) => e.values.some((v) => v.name === 'BPF_TRACE_UPROBE_MULTI'));
    } catch {
      uprobeMultiKnown = false;
    }
  }
  return uprobeMultiKnown ? AttachType.trace_uprobe_multi : undefined;
}

/**
 * The attach target's BTF type id in vmlinux (fentry, fexit, fmod_ret, lsm, tp_btf, iter), as libbpf
 * finds it (`libbpf_find_vmlinux_btf_id`). Exported for the test that compares it with libbpf's.
 */
export function attachBtfId(program: ProgramSpec): number {
  const target = program.attachTarget;
  if (!target) throw new ObjectError('ERR_BPFMAP_OBJECT_SECTION', `section '${program.sectionName}' names no attach target (expected e.g. '${program.sectionName}/do_unlinkat')`, { program: program.name, section: program.sectionName });
  const btf = kernelBtf();
  const section = program.sectionName;
  const [name, kind] = section.startsWith('lsm')
    ? [`bpf_lsm_${target}`, 'func' as const]
    : section.startsWith('tp_btf')
      ? [`btf_trace_${target}`, 'typedef' as const]
      : section.startsWith('iter')
        ? [`bpf_iter_${target}`, 'func' as const]
        : [target, 'func' as const];
  const [found] = btf.typesByName(name, kind);
  if (!found) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `the kernel has no ${kind} '${name}' in its BTF to attach to`, { program: program.name, section, symbol: name });
  }
  return found.id;
}

/** fd_array keys of module BTF objects (the rest are map keys). */
const MODULE_BTF_KEY = 'btf:';

/** A handle on the loaded BTF object of kernel module `name`, opened once per load. */
function moduleBtf(name: string, cache: Map<string, NativeObject<'btf'>>): NativeObject<'btf'> {
  const cached = cache.get(name);
  if (cached) return cached;
  for (const id of btfIds()) {
    const handle = native.objGetById<'btf'>(Command.BTF_GET_FD_BY_ID, id, 0);
    if (typeof handle === 'number') continue;
    const loaded = (() => {
      try {
        return btfFromHandle(handle);
      } catch {
        return undefined;
      }
    })();
    if (loaded?.kernel && loaded.name === name) {
      cache.set(name, handle);
      return handle;
    }
    native.objClose(handle);
  }
  throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `no loaded BTF object for module '${name}' (was it unloaded?)`, { symbol: name });
}

/** Ids of every loaded BTF object. */
function* btfIds(): Generator<number> {
  const attr = new StructBuffer(idAttr);
  let id = 0;
  for (;;) {
    attr.setU32('id', id).setU32('next_id', 0);
    const rc = native.bpfPlain(Command.BTF_GET_NEXT_ID, attr.bytes);
    if (rc < 0) return;
    id = attr.u32('next_id');
    yield id;
  }
}

/** Loads one linked program, retrying with a verifier log (bigger each time it is cut) when it fails. */
function loadProgram(
  spec: ObjectSpec,
  program: ProgramSpec,
  mapHandles: ReadonlyMap<string, NativeObject<'map'>>,
  btf: NativeObject<'btf'> | null,
  options: LoadOptions,
  context: LinkContext,
  moduleBtfs: Map<string, NativeObject<'btf'>>,
  target?: LoadTarget,
): BpfProgram {
  if (program.type === 0) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_SECTION', `section name '${program.sectionName}' matches no program type libbpf knows (set spec.programs.get('${program.name}').type to load it anyway)`, { program: program.name, section: program.sectionName });
  }
  const linked = linkProgram(program.code, context);
  const ext = spec.btfExt && btf ? programExtInfo(placedRanges(linked, (name) => spec.btfExt?.sections.get(name))) : undefined;
  const funcInfo = ext && ext.funcInfo.length > 0 ? encodeFuncInfo(ext.funcInfo) : null;
  const lineInfo = ext && ext.lineInfo.length > 0 ? encodeLineInfo(ext.lineInfo) : null;
  const maps = linked.maps.map((key): NativeObject<'map'> | NativeObject<'btf'> => {
    if (key.startsWith(MODULE_BTF_KEY)) return moduleBtf(key.slice(MODULE_BTF_KEY.length), moduleBtfs);
    const handle = mapHandles.get(key);
    if (!handle) throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `refers to map '${key}', which was not created`, { program: program.name, section: program.sectionName, map: key });
    return handle;
  });
  const attr = new StructBuffer(progLoadAttr)
    .setU32('prog_type', program.type)
    .setU32('prog_flags', program.flags)
    .setU32('kern_version', program.kernelVersion)
    .setText('prog_name', program.name.slice(0, PROGRAM_NAME_LENGTH).replace(/[^A-Za-z0-9_.]/g, '_'))
    .setU32('expected_attach_type', target?.attachType ?? program.attachType ?? usdtAttachType(program) ?? 0)
    .setU32('attach_btf_id', target ? target.btfId : program.attachBtf ? attachBtfId(program) : 0);
  const trueSize = new Uint32Array(1);
  const attempt = (level: number, log: Uint8Array | null): NativeObject<'prog'> | number => {
    attr.setU32('log_level', log ? level : 0);
    return native.progLoad(attr.bytes, linked.instructions, program.license || 'GPL', log, funcInfo, lineInfo, maps, btf, target?.object ?? null, trueSize);
  };
  const level = options.logLevel ?? 0;
  let log: Uint8Array | null = level > 0 ? new Uint8Array(options.logSize ?? FIRST_LOG_SIZE) : null;
  let result = attempt(level, log);
  if (typeof result === 'number' && !log) {
    log = new Uint8Array(options.logSize ?? FIRST_LOG_SIZE);
    result = attempt(1, log);
  }
  // A log that did not fit: ENOSPC, with the size it needed in log_true_size (kernels >= 6.4).
  while (typeof result === 'number' && -result === Errno.ENOSPC && log && log.length < MAX_LOG_SIZE) {
    log = new Uint8Array(Math.min(MAX_LOG_SIZE, Math.max(log.length * 4, (trueSize[0] ?? 0) + 1)));
    result = attempt(Math.max(level, 1), log);
  }
  const text = log ? Buffer.from(log.subarray(0, Math.max(0, log.indexOf(0)))).toString('utf8') : '';
  if (typeof result === 'number') {
    const errno = -result;
    throw new VerifierError(program.name, program.sectionName, errno, errnoName(errno), text, errno === Errno.ENOSPC, log !== null);
  }
  const attachType = target ? target.attachType : program.attachType ?? usdtAttachType(program);
  const loaded = BpfProgram.adopt(result, { sectionName: program.sectionName, functionName: program.name, ...(attachType !== undefined ? { attachType } : {}) });
  if (level > 0) loaded.verifierLog = text;
  return loaded;
}

/**
 * What linking needs: CO-RE relocations applied to copies of the sections that have them (so
 * the spec stays as it was read, and a second load relocates afresh), kconfig offsets, and ksym
 * resolution against the running kernel.
 */
function linkContext(spec: ObjectSpec): LinkContext {
  const relocated = new Map<CodeSection, Uint8Array>();
  let relocator: CoreRelocator | undefined;
  let ksyms: KsymResolver | undefined;
  return {
    code: spec.code,
    instructionsOf: (section) => {
      const done = relocated.get(section);
      if (done) return done;
      const records = spec.btfExt?.sections.get(section.name)?.coreRelocations ?? [];
      let instructions = section.instructions;
      if (records.length > 0 && spec.btf) {
        instructions = section.instructions.slice();
        relocator ??= new CoreRelocator(spec.btf);
        relocator.apply(instructions, records, { section: section.name });
      }
      relocated.set(section, instructions);
      return instructions;
    },
    kconfigOffset: (name) => spec.kconfig?.externs.find((e) => e.name === name)?.offset,
    ...(spec.sourceBtf
      ? {
          resolveKsym: (instructions: Uint8Array, position: number, name: string, _call: boolean, weak: boolean, fdArrayIndex: (key: string) => number, where: { program: string; section: string; instruction: number }): void => {
            ksyms ??= new KsymResolver(spec.sourceBtf as NonNullable<ObjectSpec['sourceBtf']>);
            const resolution = ksyms.resolve({ name, weak, ...where });
            const module = resolution.kind === 'btf' ? resolution.module : undefined;
            applyKsym(instructions, position, resolution, module === undefined ? {} : { fdArrayIndex: fdArrayIndex(`${MODULE_BTF_KEY}${module}`) });
          },
        }
      : {}),
  };
}

/** Loads a spec (see `ObjectSpec.load`). Everything this load created is closed again when it fails. */
export function loadObject(spec: ObjectSpec, options: LoadOptions): BpfObject {
  if (options.logLevel !== undefined && (!Number.isInteger(options.logLevel) || options.logLevel < 0 || options.logLevel > 7)) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `logLevel must be an integer from 0 to 7 (1 basic, 2 verbose, 4 stats), got ${String(options.logLevel)}`);
  }
  const pinRoot = options.pinPath ?? DEFAULT_PIN_PATH;
  const ready = new Map<string, ReadyMap>();
  const programs = new Map<string, BpfProgram>();
  const handles = new Map<string, NativeObject<'map'>>();
  let btfFd: number | undefined;
  let btfHandle: NativeObject<'btf'> | null = null;
  // Module BTF objects that kfunc calls name through fd_array: held for the load only.
  const moduleBtfs = new Map<string, NativeObject<'btf'>>();
  const cleanup = (failed: boolean): void => {
    for (const handle of handles.values()) native.objClose(handle);
    for (const handle of moduleBtfs.values()) native.objClose(handle);
    if (btfHandle) native.objClose(btfHandle);
    // An fd loadBtfIntoKernel handed over: ours to close (the addon only ever used duplicates).
    if (btfFd !== undefined) closeSync(btfFd);
    if (failed) {
      for (const program of programs.values()) program.close();
      for (const entry of ready.values()) if (!entry.borrowed) entry.map.close();
    }
  };
  try {
    if (spec.btf) {
      try {
        btfFd = loadBtfIntoKernel(spec.btf.bytes);
        const handle = native.objFromFd<'btf'>(btfFd, NativeKind.btf);
        btfHandle = typeof handle === 'number' ? null : handle;
      } catch (error) {
        process.emitWarning(`object '${spec.name}': the kernel refused its BTF, loading without it (maps untyped, no line info): ${(error as Error).message}`, { code: 'BPFMAP_OBJECT_BTF' });
        btfFd = undefined;
      }
    }
    for (const [key, mapSpec] of spec.maps) {
      const entry = prepareMap(spec, key, mapSpec, btfFd, pinRoot);
      ready.set(key, entry);
      const handle = native.objDup(entry.map[nativeObject]);
      if (typeof handle === 'number') throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -handle, { name: mapSpec.name });
      handles.set(key, handle);
    }
    // Initial inner maps of maps-in-maps.
    for (const [key, mapSpec] of spec.maps) {
      const entry = ready.get(key);
      if (!entry?.created) continue;
      for (const slot of mapSpec.slots) {
        if (slot.map === undefined) continue;
        const inner = ready.get(slot.map);
        if (!inner) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `slot ${slot.index} names map '${slot.map}', which the object does not have`, { map: mapSpec.name });
        entry.map.setInnerMap(u32Key(slot.index) as never, inner.map);
      }
    }
    const context = linkContext(spec);
    const wanted = options.programs ? new Set(options.programs) : undefined;
    if (wanted) for (const name of wanted) spec.program(name);
    const structOps = structOpsTargets(spec);
    for (const program of spec.programs.values()) {
      if (wanted ? !wanted.has(program.name) : !program.autoload) continue;
      let target: LoadTarget | undefined;
      if (program.type === ProgramType.struct_ops) {
        target = structOps.get(program.name);
        // As libbpf: a struct_ops program no struct_ops map uses is not loaded (it has no member to serve).
        if (!target) {
          if (wanted) throw new ObjectError('ERR_BPFMAP_OBJECT_SECTION', 'no struct_ops variable of the object uses this program, so it has no member to be loaded for', { program: program.name, section: program.sectionName });
          continue;
        }
      } else if (program.type === ProgramType.ext) {
        target = freplaceTarget(program);
      }
      programs.set(program.name, loadProgram(spec, program, handles, btfHandle, options, context, moduleBtfs, target));
    }
    // Initial programs of prog_arrays.
    for (const [key, mapSpec] of spec.maps) {
      const entry = ready.get(key);
      if (!entry?.created) continue;
      for (const slot of mapSpec.slots) {
        if (slot.program === undefined) continue;
        const program = programs.get(slot.program);
        if (!program) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `slot ${slot.index} names program '${slot.program}', which was not loaded`, { map: mapSpec.name });
        entry.map.setFd(u32Key(slot.index) as never, program);
      }
    }
    for (const [key, mapSpec] of spec.maps) {
      const entry = ready.get(key);
      if (entry?.created && mapSpec.pinning === 'byName') entry.map.pin(path.join(pinRoot, mapSpec.name));
    }
    cleanup(false);
    return new BpfObject(spec, new Map([...ready].map(([key, entry]) => [key, { map: entry.map, borrowed: entry.borrowed }])), programs);
  } catch (error) {
    cleanup(true);
    throw error;
  }
}
