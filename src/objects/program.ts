/**
 * `BpfProgram`: a handle on one loaded BPF program — from an object's load, a pin, or an id — with
 * its info, pinning, and test runs.
 */
import { native, nativeObject, NativeKind, type NativeObject } from '../sys/native.js';
import { Command } from '../sys/commands.js';
import { BpfError, Errno, argumentError, check } from '../sys/errors.js';
import { idAttr, StructBuffer } from '../sys/layout.js';
import { bpfObjectKind } from '../sys/fd-kind.js';
import { attachTypeName, programTypeName } from '../sys/program-types.js';
import { readProgramIdentity, readProgramInfo, type ProgramIdentity, type ProgramInfo } from './program-info.js';
import { KernelObject } from './kernel-object.js';

/** What `run` passes to BPF_PROG_TEST_RUN. */
export interface RunOptions {
  /** The packet (XDP, tc, socket filters, ...); XDP needs at least 14 bytes. */
  readonly data?: Uint8Array;
  /** Bytes to receive the packet after the run (default: as many as `data`). */
  readonly dataOut?: Uint8Array | false;
  /** The context struct (`struct __sk_buff`, `struct xdp_md`, a raw tracepoint's args, a syscall program's ctx). */
  readonly context?: Uint8Array;
  /** Bytes to receive the context after the run. */
  readonly contextOut?: Uint8Array;
  /** Run this many times (the duration is the mean). Default 1. */
  readonly repeat?: number;
  /** BPF_F_TEST_* flags (1 RUN_ON_CPU, 2 XDP_LIVE_FRAMES). */
  readonly flags?: number;
  /** CPU to run on, with flags RUN_ON_CPU. */
  readonly cpu?: number;
}

/** What a test run returned. */
export interface RunResult {
  /** The program's return value (`r0`). */
  readonly returnValue: number;
  /** The packet after the run (a view of `dataOut` of the size the kernel wrote), when there was one. */
  readonly data: Uint8Array | undefined;
  /** The context after the run, when `contextOut` was given. */
  readonly context: Uint8Array | undefined;
  /** Mean duration of one run in nanoseconds. */
  readonly durationNs: number;
}

/** What the loader knows about a program beyond what the kernel reports. */
export interface ProgramOrigin {
  /** The ELF section the program came from (`'xdp'`, `'kprobe/do_unlinkat'`). */
  readonly sectionName?: string;
  /** The expected attach type it was loaded with (`AttachType`), when it had one. */
  readonly attachType?: number;
  /** Where it was pinned or opened from. */
  readonly path?: string;
  /** The C function's full name in its object (the kernel keeps only 15 characters). */
  readonly functionName?: string;
}

function programError(command: 'OBJ_PIN' | 'OBJ_GET' | 'PROG_GET_FD_BY_ID' | 'OBJ_GET_INFO_BY_FD', errno: number, what: string): BpfError {
  const base = BpfError.fromErrno(command, errno);
  return new BpfError(`${command} ${what}: ${base.message.slice(base.message.indexOf(': ') + 2)}`, { code: base.code, errno, command });
}

/**
 * A loaded BPF program.
 *
 * @example
 * using prog = BpfProgram.fromPinned('/sys/fs/bpf/xdp_pass');
 * console.log(prog.typeName, prog.name, prog.info().tag);
 */
export class BpfProgram extends KernelObject<'prog'> {
  /** Read on first use for programs this process loaded (see `adopt`). */
  #info: ProgramIdentity | undefined;
  readonly #origin: ProgramOrigin;
  /** The verifier's log of a load made with `logLevel` > 0 (`''` otherwise). */
  verifierLog = '';

  /**
   * Use the static constructors (`fromPinned`, `fromId`, `fromFd`) or `ObjectSpec.load`. Takes
   * ownership of the handle; reads its identity at once (which checks an opened fd) unless
   * `loaded` says this process has just loaded it.
   */
  protected constructor(handle: NativeObject<'prog'>, origin: ProgramOrigin = {}, loaded = false) {
    const identity = loaded ? undefined : identityOrClose(handle);
    super(handle, origin.path);
    this.#info = identity;
    this.#origin = origin;
  }

  /**
   * @internal Wraps a handle the loader owns (from BPF_PROG_LOAD). Its identity (id, name, tag)
   * is read when first asked for: a loader that only pins its programs, as `bpfmap load` does,
   * makes no OBJ_GET_INFO_BY_FD call for any of them.
   */
  static adopt(handle: NativeObject<'prog'>, origin: ProgramOrigin): BpfProgram {
    return new BpfProgram(handle, origin, true);
  }

  /** What never changes about the program, read once. */
  get #identity(): ProgramIdentity {
    if (this.#info === undefined) {
      if (this.closed) throw this.closedError();
      this.#info = readProgramIdentity(this.ownedHandle);
    }
    return this.#info;
  }

  /** @internal The handle, for functions that take this program as an argument (`setFd` on a prog_array). */
  get [nativeObject](): NativeObject<'prog'> {
    return this.ownedHandle;
  }

  /** A program handle on a duplicate of an fd the caller owns (the caller keeps its own). */
  static #fromUserFd(fd: number, what: string): BpfProgram {
    const handle = native.objFromFd<'prog'>(fd, NativeKind.prog);
    const kind = typeof handle === 'number' ? bpfObjectKind(fd) : 'prog';
    if (typeof handle === 'number') {
      if (-handle === Errno.EINVAL) {
        throw new BpfError(`${what} is a BPF ${kind ?? 'object'} of another kind, not a program`, { code: 'ERR_BPFMAP_NOT_A_PROGRAM', errno: 0 });
      }
      throw programError('OBJ_GET', -handle, what);
    }
    return new BpfProgram(handle, what.startsWith('/') ? { path: what } : {});
  }

  /**
   * Opens a program pinned on bpffs.
   * @throws BpfError with code ENOENT when nothing is pinned there, `ERR_BPFMAP_NOT_A_PROGRAM`
   *   when the pin is another kind of BPF object.
   */
  static fromPinned(path: string): BpfProgram {
    if (typeof path !== 'string' || path === '') throw argumentError(TypeError, 'ERR_BPFMAP_PATH', 'pin path must be a non-empty string');
    const handle = native.objGet(path, 0);
    if (typeof handle === 'number') {
      if (-handle === Errno.ENOENT) throw new BpfError(`no program pinned at ${path}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'OBJ_GET' });
      if (-handle === Errno.EINVAL) throw new BpfError(`${path} is not a BPF program`, { code: 'ERR_BPFMAP_NOT_A_PROGRAM', errno: 0 });
      throw programError('OBJ_GET', -handle, `at ${path}`);
    }
    const kind = native.objKind(handle);
    if (kind !== NativeKind.prog) {
      native.objClose(handle);
      const name = (Object.keys(NativeKind) as (keyof typeof NativeKind)[]).find((k) => NativeKind[k] === kind) ?? 'object';
      throw new BpfError(`${path} is a BPF ${name}, not a program`, { code: 'ERR_BPFMAP_NOT_A_PROGRAM', errno: 0 });
    }
    return new BpfProgram(handle as NativeObject<'prog'>, { path });
  }

  /**
   * Opens a program by its kernel-wide id (needs CAP_SYS_ADMIN).
   * @throws BpfError with code ENOENT when no program has that id.
   */
  static fromId(id: number): BpfProgram {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_ID', `program id must be a positive 32-bit integer, got ${id}`);
    const handle = native.progFromId(id);
    if (typeof handle === 'number') {
      if (-handle === Errno.ENOENT) throw new BpfError(`no program with id ${id}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'PROG_GET_FD_BY_ID' });
      throw programError('PROG_GET_FD_BY_ID', -handle, `id ${id}`);
    }
    return new BpfProgram(handle);
  }

  /** Opens the program behind an fd the caller owns; the fd is duplicated, the caller keeps its own. */
  static fromFd(fd: number): BpfProgram {
    if (!Number.isInteger(fd) || fd < 0) throw argumentError(RangeError, 'ERR_BPFMAP_FD', `fd must be a non-negative integer, got ${fd}`);
    return BpfProgram.#fromUserFd(fd, `fd ${fd}`);
  }

  /** Ids of every loaded program, in increasing order (needs CAP_SYS_ADMIN). */
  static *ids(): Generator<number> {
    const attr = new StructBuffer(idAttr);
    let id = 0;
    for (;;) {
      attr.setU32('id', id).setU32('next_id', 0);
      const rc = native.bpfPlain(Command.PROG_GET_NEXT_ID, attr.bytes);
      if (rc === -Errno.ENOENT) return;
      check('PROG_GET_NEXT_ID', rc);
      id = attr.u32('next_id');
      yield id;
    }
  }

  /** Info of every loaded program, like `bpftool prog show` (programs unloaded meanwhile are skipped). */
  static list(): ProgramInfo[] {
    const infos: ProgramInfo[] = [];
    for (const id of BpfProgram.ids()) {
      const handle = native.progFromId(id);
      if (handle === -Errno.ENOENT) continue;
      if (typeof handle === 'number') throw programError('PROG_GET_FD_BY_ID', -handle, `id ${id}`);
      try {
        infos.push(readProgramInfo(handle));
      } finally {
        native.objClose(handle);
      }
    }
    return infos;
  }

  /** Kernel-wide program id. */
  get id(): number {
    return this.#identity.id;
  }

  /** Program type number (`ProgramType`). */
  get type(): number {
    return this.#identity.type;
  }

  /** bpftool's name for the program type (`'xdp'`, `'kprobe'`). */
  get typeName(): string {
    return programTypeName(this.#identity.type);
  }

  /** The name the kernel has (up to 15 characters of the C function's name). */
  get name(): string {
    return this.#identity.name;
  }

  /**
   * The program's C function name as its object has it (`object.program(NAME)`), which `name`
   * (the kernel's copy) cuts at 15 characters; `name` for programs opened from a pin or an id.
   */
  get functionName(): string {
    return this.#origin.functionName ?? this.name;
  }

  /** The program's tag, 16 hex digits. */
  get tag(): string {
    return this.#identity.tag;
  }

  /** The ELF section it was loaded from, when it came from an object. */
  get sectionName(): string | undefined {
    return this.#origin.sectionName;
  }

  /** The expected attach type it was loaded with (`AttachType`), when known. */
  get attachType(): number | undefined {
    return this.#origin.attachType;
  }

  /** The name of the expected attach type (`'trace_fentry'`), when known. */
  get attachTypeName(): string | undefined {
    return this.#origin.attachType === undefined ? undefined : attachTypeName(this.#origin.attachType);
  }

  /** BTF type id of the attach target (fentry/fexit/lsm/tp_btf/iter programs), 0 when none. */
  get attachBtfId(): number {
    return this.#identity.attachBtfId;
  }

  /** Id of the BTF object holding the attach target (vmlinux or a module), 0 when none. */
  get attachBtfObjectId(): number {
    return this.#identity.attachBtfObjectId;
  }

  /** Fresh info from the kernel (run counts and map ids change over time). */
  info(): ProgramInfo {
    return readProgramInfo(this.handle);
  }

  /**
   * Runs the program once (or `repeat` times) in the kernel on the given packet and/or context
   * (BPF_PROG_TEST_RUN); not every program type can be run this way (EINVAL/ENOTSUPP then).
   *
   * @example
   * const { returnValue } = prog.run({ data: new Uint8Array(64) }); // XDP_PASS = 2
   */
  run(options: RunOptions = {}): RunResult {
    const handle = this.handle;
    const repeat = options.repeat ?? 1;
    for (const [name, value] of [['repeat', repeat], ['flags', options.flags ?? 0], ['cpu', options.cpu ?? 0]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `run: ${name} must be an integer from 0 to 4294967295, got ${String(value)}`);
    }
    for (const name of ['data', 'context', 'contextOut'] as const) {
      const value = options[name];
      if (value !== undefined && !(value instanceof Uint8Array)) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `run: ${name} must be a Uint8Array`);
    }
    const data = options.data ?? null;
    const dataOut = options.dataOut === false ? null : options.dataOut ?? (data ? new Uint8Array(Math.max(data.length, 256)) : null);
    if (dataOut !== null && !(dataOut instanceof Uint8Array)) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'run: dataOut must be a Uint8Array or false');
    const out = new Uint32Array(4);
    const rc = native.progTestRun(handle, data, dataOut, options.context ?? null, options.contextOut ?? null, repeat, options.flags ?? 0, options.cpu ?? 0, 0, out);
    if (rc < 0) {
      const errno = -rc;
      const base = BpfError.fromErrno('PROG_TEST_RUN', errno);
      const hint = errno === Errno.ENOSPC ? 'the output is larger than dataOut/contextOut' : errno === Errno.EINVAL || errno === Errno.ENOTSUPP ? `program type ${this.typeName} cannot be test-run with these arguments (XDP/tc need data of at least 14 bytes; tracing programs need a context or none)` : base.message;
      throw new BpfError(`PROG_TEST_RUN of program '${this.name}' failed with ${base.code}: ${hint}`, { code: base.code, errno, command: 'PROG_TEST_RUN' });
    }
    const [returnValue = 0, dataSize = 0, contextSize = 0, durationNs = 0] = out;
    return {
      returnValue,
      data: dataOut ? dataOut.subarray(0, Math.min(dataSize, dataOut.length)) : undefined,
      context: options.contextOut ? options.contextOut.subarray(0, Math.min(contextSize, options.contextOut.length)) : undefined,
      durationNs,
    };
  }

  protected override closedError(): BpfError {
    // A loaded program closed before anything asked for its identity has none to name.
    const what = this.#info ? `program '${this.#info.name}' (id ${this.#info.id})` : `program of section '${this.#origin.sectionName ?? '?'}'`;
    return new BpfError(`${what} is closed`, { code: 'EBADF', errno: Errno.EBADF });
  }

  protected override pinError(errno: number, path: string): BpfError {
    return programError('OBJ_PIN', errno, `of program '${this.name}' at ${path}`);
  }

  protected override fdError(errno: number): BpfError {
    return BpfError.fromErrno('OBJ_GET_INFO_BY_FD', errno);
  }

}

/** What the constructor keeps of a program handle; closes the handle when it cannot be read. */
function identityOrClose(handle: NativeObject<'prog'>): ProgramIdentity {
  try {
    return readProgramIdentity(handle);
  } catch (error) {
    native.objClose(handle);
    throw error;
  }
}
