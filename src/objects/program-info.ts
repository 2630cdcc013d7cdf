/** What the kernel says about a loaded program: `struct bpf_prog_info`, read by fd. */
import { native, type NativeObject } from '../sys/native.js';
import { BpfError } from '../sys/errors.js';
import { progInfoLayout, StructBuffer } from '../sys/layout.js';
import { programTypeName } from '../sys/program-types.js';

/** A loaded program's attributes as the kernel reports them. */
export interface ProgramInfo {
  /** Program type number (`ProgramType`). */
  readonly type: number;
  /** bpftool's name of the type (`'xdp'`), or the number as text for unknown types. */
  readonly typeName: string;
  /** Kernel-wide program id. */
  readonly id: number;
  /** The program's tag: a hash of its instructions, 16 hex digits. */
  readonly tag: string;
  /** Program name (up to 15 characters). */
  readonly name: string;
  /** Bytes of the translated (verified, rewritten) instructions. */
  readonly xlatedSize: number;
  /** Bytes of JIT-compiled code, 0 when not JITed. */
  readonly jitedSize: number;
  /** Load time in nanoseconds since boot (`CLOCK_BOOTTIME`). */
  readonly loadTime: bigint;
  /** The uid of the process that loaded it. */
  readonly createdByUid: number;
  /** Ids of the maps the program uses. */
  readonly mapIds: readonly number[];
  /** Id of the program's BTF object, 0 when none. */
  readonly btfId: number;
  /** True when the license is GPL-compatible. */
  readonly gplCompatible: boolean;
  /** Number of func_info and line_info records the program was loaded with. */
  readonly funcInfoCount: number;
  readonly lineInfoCount: number;
  /** Instructions the verifier processed. */
  readonly verifiedInstructions: number;
  /** Run time and count, when `kernel.bpf_stats_enabled` is on. */
  readonly runTimeNs: bigint;
  readonly runCount: bigint;
  /** BTF object id and type id of the program's attach target (fentry, lsm, ...), 0 when none. */
  readonly attachBtfObjectId: number;
  readonly attachBtfId: number;
  /** Bytes of memory the program is charged for, as fdinfo reports (undefined when unavailable). */
  readonly memlock: number | undefined;
}

/** The ids of the maps a program uses (asked again with a bigger buffer when there are more). */
export function programMapIds(prog: NativeObject<'prog'>): number[] {
  let ids = new Uint32Array(64);
  for (;;) {
    const count = native.progMapIds(prog, ids);
    if (count < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -count, undefined, 'program map ids');
    if (count <= ids.length) return [...ids.subarray(0, count)];
    ids = new Uint32Array(count);
  }
}

function readInfoStruct(prog: NativeObject<'prog'>): StructBuffer<keyof typeof progInfoLayout.fields> {
  const info = new StructBuffer(progInfoLayout);
  const rc = native.objInfo(prog, info.bytes);
  if (rc < 0) throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -rc, undefined, 'program info');
  return info;
}

/** The parts of a program's info that never change while it is loaded. */
export type ProgramIdentity = Pick<ProgramInfo, 'type' | 'id' | 'tag' | 'name' | 'attachBtfObjectId' | 'attachBtfId'>;

/**
 * Reads what never changes about a program with one OBJ_GET_INFO_BY_FD: no fdinfo file and no
 * second call for its map ids (a loader holding 40 programs paid three system calls and a /proc
 * read for each, for fields nobody had asked for yet).
 * @throws BpfError (OBJ_GET_INFO_BY_FD) when the kernel refuses.
 */
export function readProgramIdentity(prog: NativeObject<'prog'>): ProgramIdentity {
  const info = readInfoStruct(prog);
  return {
    type: info.u32('type'),
    id: info.u32('id'),
    tag: Buffer.from(info.raw('tag')).toString('hex'),
    name: info.text('name'),
    attachBtfObjectId: info.u32('attach_btf_obj_id'),
    attachBtfId: info.u32('attach_btf_id'),
  };
}

/**
 * Reads a program's info (the struct is built in addon memory; see native/objects.c).
 * @throws BpfError (OBJ_GET_INFO_BY_FD) when the kernel refuses.
 */
export function readProgramInfo(prog: NativeObject<'prog'>): ProgramInfo {
  const info = readInfoStruct(prog);
  let memlock: number | undefined;
  const fdinfo = native.objFdInfo(prog);
  const match = typeof fdinfo === 'string' ? /^memlock:\s*(\d+)/m.exec(fdinfo) : null;
  memlock = match?.[1] === undefined ? undefined : Number(match[1]);
  const type = info.u32('type');
  return {
    type,
    typeName: programTypeName(type),
    id: info.u32('id'),
    tag: Buffer.from(info.raw('tag')).toString('hex'),
    name: info.text('name'),
    xlatedSize: info.u32('xlated_prog_len'),
    jitedSize: info.u32('jited_prog_len'),
    loadTime: info.u64('load_time'),
    createdByUid: info.u32('created_by_uid'),
    mapIds: info.u32('nr_map_ids') ? programMapIds(prog) : [],
    btfId: info.u32('btf_id'),
    gplCompatible: (info.u32('gpl_compatible') & 1) !== 0,
    funcInfoCount: info.u32('nr_func_info'),
    lineInfoCount: info.u32('nr_line_info'),
    verifiedInstructions: info.u32('verified_insns'),
    runTimeNs: info.u64('run_time_ns'),
    runCount: info.u64('run_cnt'),
    attachBtfObjectId: info.u32('attach_btf_obj_id'),
    attachBtfId: info.u32('attach_btf_id'),
    memlock,
  };
}
