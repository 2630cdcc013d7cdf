/**
 * `Link`: one attachment of a program (a bpf_link). Closing the last reference detaches it;
 * a pin on bpffs is such a reference, so a pinned link outlives the process and detaches when
 * the pin is removed. Every attach kind (`xdp.ts`, `kprobe.ts`, ...) returns a `Link`.
 */
import { native, type NativeObject } from '../../sys/native.js';
import { BpfError, Errno, argumentError, errnoName } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { attachSyscallError, type AttachSubject } from './errors.js';
import { decodeLinkInfo, type LinkInfo } from './link-info.js';
import { KernelObject } from '../kernel-object.js';

const EMEDIUMTYPE = 124;

/** What a link was made from, for messages and `link.kind`/`link.target`. */
export interface LinkOrigin {
  readonly program: string;
  readonly kind: string;
  readonly target?: string;
  /** The bpffs path it was opened from. */
  readonly path?: string;
}

function linkError(message: string, errno: number, command: 'OBJ_PIN' | 'OBJ_GET' | 'LINK_GET_FD_BY_ID' | 'LINK_GET_NEXT_ID' | 'LINK_DETACH' | 'LINK_UPDATE' | 'OBJ_GET_INFO_BY_FD' | 'ITER_CREATE'): BpfError {
  return new BpfError(`${message} (${errnoName(errno)})`, { code: errnoName(errno), errno, command });
}

/** Runs `use` with the program's native handle (which throws EBADF once the program is closed). */
export function withProgramHandle<T>(program: BpfProgram, use: (handle: NativeObject<'prog'>) => T): T {
  return use(program.handle);
}

/** The subject of errors about `program` attached as `kind` to `target`. */
export function subjectOf(program: BpfProgram, kind: string, target?: string): AttachSubject {
  const section = program.sectionName;
  return { program: program.functionName, kind, ...(target === undefined ? {} : { target }), ...(section === undefined ? {} : { section }) };
}

/**
 * Turns a native link-creating call's result into a Link, or throws a `BpfAttachError` naming
 * the program, the kind and the target.
 * @internal
 */
export function linkOrThrow(
  result: NativeObject<'link'> | number,
  subject: AttachSubject,
  operation: string,
  command: 'LINK_CREATE' | 'RAW_TRACEPOINT_OPEN',
  hint?: (errno: number) => string | undefined,
): Link {
  if (typeof result === 'number') throw attachSyscallError(subject, operation, -result, command, hint?.(-result));
  return Link.adopt(result, { program: subject.program, kind: subject.kind, ...(subject.target !== undefined ? { target: subject.target } : {}) });
}

/**
 * An attached program. Detaches when closed (`close()`, `using`, or garbage collection as a
 * safety net) unless it is pinned; a pinned link detaches when its last pin is removed.
 *
 * @example
 * using link = attachXdp(program, { interface: 'eth0' });
 * link.pin('/sys/fs/bpf/xdp_eth0');   // stays attached after exit; `rm` the pin to detach
 */
export class Link extends KernelObject<'link'> {
  readonly #origin: LinkOrigin;

  /** Use the attach functions, `Link.fromPinned` or `Link.fromId`. */
  protected constructor(handle: NativeObject<'link'>, origin: LinkOrigin) {
    super(handle, origin.path);
    this.#origin = origin;
  }

  /** @internal Wraps a handle a native call returned. */
  static adopt(handle: NativeObject<'link'>, origin: LinkOrigin): Link {
    return new this(handle, origin);
  }

  /**
   * Opens a link pinned on bpffs (closing the returned object leaves the pin attached).
   * @throws BpfError ENOENT when nothing is pinned there, `ERR_BPFMAP_NOT_A_LINK` when the pin is another kind of object.
   */
  static fromPinned(path: string): Link {
    if (typeof path !== 'string' || path === '') throw argumentError(TypeError, 'ERR_BPFMAP_PATH', 'pin path must be a non-empty string');
    const handle = native.linkGetPinned(path);
    if (typeof handle === 'number') {
      if (-handle === EMEDIUMTYPE) throw new BpfError(`${path} holds a BPF object that is not a link`, { code: 'ERR_BPFMAP_NOT_A_LINK', errno: 0, command: 'OBJ_GET' });
      if (-handle === Errno.ENOENT) throw new BpfError(`no link pinned at ${path}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'OBJ_GET' });
      throw linkError(`cannot open the link pinned at ${path}`, -handle, 'OBJ_GET');
    }
    return new Link(handle, { ...originFromInfo(handle), path });
  }

  /**
   * Opens a link by its kernel-wide id (needs CAP_SYS_ADMIN).
   * @throws BpfError ENOENT when no link has that id.
   */
  static fromId(id: number): Link {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_ID', `link id must be a positive 32-bit integer, got ${id}`);
    const handle = native.linkFromId(id);
    if (typeof handle === 'number') {
      if (-handle === Errno.ENOENT) throw new BpfError(`no link with id ${id}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'LINK_GET_FD_BY_ID' });
      throw linkError(`cannot open link id ${id}`, -handle, 'LINK_GET_FD_BY_ID');
    }
    return new Link(handle, originFromInfo(handle));
  }

  /** Ids of every link, in increasing order (needs CAP_SYS_ADMIN). */
  static *ids(): Generator<number> {
    let id = 0;
    for (;;) {
      const next = native.linkNextId(id);
      if (next === -Errno.ENOENT) return;
      if (next < 0) throw linkError('cannot list links', -next, 'LINK_GET_NEXT_ID');
      id = next;
      yield id;
    }
  }

  /** Info of every link, like `bpftool link show` (links detached meanwhile are skipped). */
  static list(): LinkInfo[] {
    const infos: LinkInfo[] = [];
    for (const id of Link.ids()) {
      const handle = native.linkFromId(id);
      if (handle === -Errno.ENOENT) continue;
      if (typeof handle === 'number') throw linkError(`cannot open link id ${id}`, -handle, 'LINK_GET_FD_BY_ID');
      try {
        infos.push(readLinkInfo(handle));
      } finally {
        native.objClose(handle);
      }
    }
    return infos;
  }

  /** The program's name, as given at attach time (or the kernel's, for opened links). */
  get program(): string {
    return this.#origin.program;
  }

  /** The attach kind (`'xdp'`, `'kprobe'`, `'tracepoint'`, ...; the link type for opened links). */
  get kind(): string {
    return this.#origin.kind;
  }

  /** The target as given at attach time (interface, symbol, `category/name`, cgroup path), if any. */
  get target(): string | undefined {
    return this.#origin.target;
  }

  /** Kernel-wide link id. */
  get id(): number {
    return this.info().id;
  }

  /** What the kernel reports about the link now (`bpftool link show`). */
  info(): LinkInfo {
    return readLinkInfo(this.handle);
  }

  /**
   * Detaches the program now (BPF_LINK_DETACH) without closing: the link, and any pin of it,
   * stays but attaches nothing. For links the kernel cannot detach early (perf-event, raw
   * tracepoint on older kernels), throws EOPNOTSUPP: close and unpin them instead.
   */
  detach(): void {
    const rc = native.linkDetach(this.handle);
    if (rc < 0) throw linkError(`detach ${this.kind} link of '${this.program}'`, -rc, 'LINK_DETACH');
  }

  /**
   * Swaps in another program of the same type and attach type, atomically (XDP, tcx, cgroup,
   * iter, netns links). With `replace`, only if that program is the one attached now.
   */
  update(program: BpfProgram, options: { replace?: BpfProgram } = {}): void {
    const link = this.handle;
    const rc = withProgramHandle(program, (next) =>
      options.replace === undefined ? native.linkUpdate(link, next, null) : withProgramHandle(options.replace, (old) => native.linkUpdate(link, next, old)),
    );
    if (rc < 0) {
      const why = -rc === Errno.EPERM && options.replace ? ' (the attached program is not the one to replace)' : -rc === Errno.EINVAL ? ' (the new program does not fit this link: type or attach type differ)' : '';
      throw linkError(`update ${this.kind} link of '${this.program}' to '${program.name}'${why}`, -rc, 'LINK_UPDATE');
    }
  }

  protected override closedError(): BpfError {
    return new BpfError(`${this.kind} link of '${this.program}' is closed`, { code: 'EBADF', errno: Errno.EBADF });
  }

  protected override pinError(errno: number, path: string): BpfError {
    const explain = errno === Errno.EEXIST ? 'the path exists already' : errno === Errno.ENOENT ? 'its folder does not exist' : errno === Errno.EPERM ? 'not on a bpffs mount, or not permitted' : 'failed';
    return linkError(`pin ${this.kind} link of '${this.program}' at ${path}: ${explain}`, errno, 'OBJ_PIN');
  }

  protected override fdError(errno: number): BpfError {
    return linkError(`cannot give out an fd for link of '${this.program}'`, errno, 'OBJ_GET_INFO_BY_FD');
  }
}

/** Reads struct bpf_link_info through a handle. */
export function readLinkInfo(handle: NativeObject<'link'>): LinkInfo {
  const bytes = new Uint8Array(64);
  const name = native.linkInfo(handle, bytes);
  if (typeof name === 'number') throw linkError('cannot read link info', -name, 'OBJ_GET_INFO_BY_FD');
  return decodeLinkInfo(bytes, name);
}

function originFromInfo(handle: NativeObject<'link'>): LinkOrigin {
  const info = readLinkInfo(handle);
  return { program: `id ${info.programId}`, kind: info.typeName, ...(info.name ? { target: info.name } : {}) };
}
