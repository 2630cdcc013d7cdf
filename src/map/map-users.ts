/**
 * The programs that use a map, and what their BTF says about it: which loaded programs hold a map
 * (none means it is orphaned: whatever it holds no longer changes from the kernel side), and the
 * record type of a ring buffer or perf event array, which libbpf creates without BTF while the
 * programs that write it carry their object's BTF.
 */
import { Command } from '../sys/commands.js';
import { BpfError, Errno, argumentError } from '../sys/errors.js';
import { idAttr, progInfoLayout, StructBuffer } from '../sys/layout.js';
import { native, type NativeObject } from '../sys/native.js';
import type { Btf } from '../codec/btf/btf.js';
import { btfFromId } from '../codec/btf/sources.js';
import { loadMapBtf } from './btf-map.js';
import type { MapInfo } from './info.js';

/** Every loaded program's id (PROG_GET_NEXT_ID until ENOENT). */
function programIds(): number[] {
  const ids: number[] = [];
  const attr = new StructBuffer(idAttr);
  for (let id = 0; ;) {
    attr.setU32('id', id);
    const rc = native.bpfPlain(Command.PROG_GET_NEXT_ID, attr.bytes);
    if (rc === -Errno.ENOENT) return ids;
    if (rc < 0) throw BpfError.fromErrno('PROG_GET_NEXT_ID', -rc);
    id = attr.u32('next_id');
    ids.push(id);
  }
}

/** Runs `use` on a handle of program `id`; undefined when the program was unloaded meanwhile. */
function withProgram<T>(id: number, use: (program: NativeObject<'prog'>) => T): T | undefined {
  const program = native.objGetById<'prog'>(Command.PROG_GET_FD_BY_ID, id, 0);
  if (program === -Errno.ENOENT) return undefined;
  if (typeof program === 'number') throw BpfError.fromErrno('PROG_GET_FD_BY_ID', -program, undefined, `program id ${id}`);
  try {
    return use(program);
  } finally {
    native.objClose(program);
  }
}

function mapIdsOf(fd: NativeObject<'prog'>): Uint32Array {
  let ids = new Uint32Array(64);
  for (;;) {
    const count = native.progMapIds(fd, ids);
    if (count < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -count, undefined, 'program map ids');
    if (count <= ids.length) return ids.subarray(0, count);
    ids = new Uint32Array(count);
  }
}

function usesMap(fd: NativeObject<'prog'>, mapId: number): boolean {
  return mapIdsOf(fd).includes(mapId);
}

/**
 * A loaded program's instructions as the verifier left them (`bpftool prog dump xlated`: map
 * references are `ld_imm64` with src_reg 1 and the map's id as imm), or undefined when the
 * program was unloaded meanwhile. Needs CAP_SYS_ADMIN (and CAP_PERFMON under kptr_restrict).
 */
export function programInstructions(programId: number): Uint8Array | undefined {
  return withProgram(programId, (fd) => {
    let insns = new Uint8Array(4096);
    for (;;) {
      const length = native.progXlatedInsns(fd, insns);
      if (length < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -length, undefined, 'program instructions');
      if (length <= insns.length) return insns.subarray(0, length);
      insns = new Uint8Array(length);
    }
  });
}

/**
 * The ids of the maps a loaded program uses, or an empty list when the program was unloaded
 * meanwhile. With `programsUsingMap`, this finds a tool's other maps (its `.rodata` settings)
 * from one of them.
 */
export function mapsOfProgram(programId: number): number[] {
  return Array.from(withProgram(programId, mapIdsOf) ?? []);
}

function programBtfId(fd: NativeObject<'prog'>): number {
  const info = new StructBuffer(progInfoLayout);
  const rc = native.objInfo(fd, info.bytes);
  if (rc < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -rc, undefined, 'program info');
  return info.u32('btf_id');
}

function mapIdOf(map: number | { readonly id: number }): number {
  const id = typeof map === 'number' ? map : map.id;
  if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_ID', `map id must be a positive 32-bit integer, got ${id}`);
  return id;
}

/**
 * The ids of the loaded programs that use a map (that hold it in their instructions), in program
 * id order. An empty list means no program uses it: a map kept alive by a pin or an fd after its
 * tool exited. Needs CAP_SYS_ADMIN (it walks every program).
 *
 * @example
 * if (programsUsingMap(counts).length === 0) console.log(`${counts.name} is orphaned`);
 */
export function programsUsingMap(map: number | { readonly id: number }): number[] {
  const mapId = mapIdOf(map);
  return programIds().filter((id) => withProgram(id, (fd) => usesMap(fd, mapId)) === true);
}

/** Where `findRecordType` found a type. */
export interface FoundRecordType {
  /** The BTF that holds the type. */
  readonly btf: Btf;
  /** The type's id in it. */
  readonly typeId: number;
  /** Whose BTF it is: the map's own, or that of a program using the map (`programId`). */
  readonly source: 'map' | 'program';
  /** The program whose BTF declared the type, when `source` is `'program'`. */
  readonly programId?: number;
}

/**
 * A type by C name in a BTF: `'struct event'`, `'event'` (typedefs, ints, floats, structs,
 * unions, enums in that order), `'enum state'`; undefined when there is none.
 * @throws TypeError (ERR_BPFMAP_TYPE_NAME) when `name` is not a C type name.
 */
export function findBtfType(btf: Btf, name: string): number | undefined {
  const match = /^\s*(?:(struct|union|enum)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(name);
  if (match === null) throw argumentError(TypeError, 'ERR_BPFMAP_TYPE_NAME', `'${name}' is not a C type name (like 'struct event' or 'u64')`);
  const [, keyword, bare = ''] = match;
  const candidates = btf.typesByName(bare).filter((type) => type.kind !== 'fwd');
  const kinds = keyword === 'enum' ? ['enum', 'enum64'] : keyword !== undefined ? [keyword] : ['typedef', 'int', 'float', 'struct', 'union', 'enum', 'enum64'];
  for (const kind of kinds) {
    const found = candidates.find((type) => type.kind === kind);
    if (found !== undefined) return found.id;
  }
  return undefined;
}

/**
 * Finds the type of the records a ring buffer or perf event array carries, by C name: in the
 * map's own BTF, then in the BTF of each loaded program that uses the map (libbpf creates these
 * maps without BTF; the programs writing them carry their object's BTF, which declares the record
 * type when the source names it, e.g. in a global or `__type`). Decode records with
 * `btfCodec(found.btf, found.typeId)`.
 *
 * @throws TypeError (ERR_BPFMAP_RECORD_TYPE) when no BTF it can reach has the type, saying where
 *   it looked.
 * @example
 * const { btf, typeId } = findRecordType(events, 'struct event');
 * using reader = RingBuffer.open(events, { decode: btfCodec(btf, typeId) });
 */
export function findRecordType(map: { readonly id: number; readonly name: string; readonly info: MapInfo }, typeName: string): FoundRecordType {
  const own = loadMapBtf(map);
  if (own !== undefined) {
    const typeId = findBtfType(own, typeName);
    if (typeId !== undefined) return { btf: own, typeId, source: 'map' };
  }
  let programsWithBtf = 0;
  for (const programId of programsUsingMap(map)) {
    const btfId = withProgram(programId, programBtfId);
    if (btfId === undefined || btfId === 0) continue;
    programsWithBtf++;
    const { btf } = btfFromId(btfId);
    const typeId = findBtfType(btf, typeName);
    if (typeId !== undefined) return { btf, typeId, source: 'program', programId };
  }
  const label = map.name || `map ${map.id}`;
  const looked = [
    ...(own !== undefined ? [`the BTF of ${label}`] : []),
    ...(programsWithBtf > 0 ? [`the BTF of the ${programsWithBtf === 1 ? 'program' : `${programsWithBtf} programs`} using it`] : []),
  ];
  throw argumentError(TypeError, 'ERR_BPFMAP_RECORD_TYPE', looked.length > 0
    ? `no type '${typeName.trim()}' in ${looked.join(' or ')}`
    : `nowhere to look for '${typeName.trim()}': ${label} has no BTF and no loaded program with BTF uses it`);
}
