/**
 * Attaching by BPF_PROG_ATTACH (the attachment before bpf_link, still the one tools like
 * `bpftool cgroup attach` make: no fd holds it, it stays until detached), BPF_PROG_QUERY (what is
 * attached to a cgroup or an interface, in the order the kernel runs it), and the ordering
 * anchors of multi-program attach points (mprog: tcx since Linux 6.6, cgroups since 6.16):
 * `before`/`after` another program or link, by handle or id, with an expected revision.
 */
import { native, type NativeObject } from '../../sys/native.js';
import { BpfError, Errno, argumentError, errnoName } from '../../sys/errors.js';
import { AttachType, attachTypeName } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { checkCgroup } from './cgroup.js';
import { attachSyscallError, type AttachSubject } from './errors.js';
import { Link, subjectOf } from './link.js';
import { resolveInterface, type NetworkInterface } from './netdev.js';

/** BPF_PROG_ATTACH / link_create flags. */
export const AttachFlags = {
  /** cgroup: descendants may attach their own program, which then runs instead. */
  ALLOW_OVERRIDE: 1 << 0,
  /** cgroup: several programs, descendants' too, all run. */
  ALLOW_MULTI: 1 << 1,
  /** Replace the program named by `replace` (cgroup with ALLOW_MULTI; tcx). */
  REPLACE: 1 << 2,
  BEFORE: 1 << 3,
  AFTER: 1 << 4,
  /** The anchor is an id, not an fd. */
  ID: 1 << 5,
  /** The anchor is a link. */
  LINK: 1 << 13,
} as const;

/** BPF_F_QUERY_EFFECTIVE: a cgroup's programs including those inherited from its ancestors. */
const QUERY_EFFECTIVE = 1;

/**
 * Something to attach before or after: a program or a link (by handle), a program or link by
 * kernel id, or `'all'` (before every attached program, or after every one).
 */
export type AttachAnchor = BpfProgram | Link | { readonly programId: number } | { readonly linkId: number } | 'all';

/** Ordering of a multi-program attach point (tcx, cgroups on Linux 6.16+). */
export interface AnchorOptions {
  /** Run before this one (`'all'`: first). */
  readonly before?: AttachAnchor;
  /** Run after this one (`'all'`: last). */
  readonly after?: AttachAnchor;
  /**
   * Attach only if the attach point's revision (from `queryPrograms`) is still this one: the
   * kernel answers ESTALE when something was attached or detached since.
   */
  readonly expectedRevision?: number | bigint;
}

/** Where a BPF_PROG_ATTACH or a query goes: a cgroup, or an interface (tcx). */
export type AttachPoint = { readonly cgroup: string; readonly interface?: undefined } | { readonly interface: NetworkInterface; readonly cgroup?: undefined };

/** @internal The anchor's flags and native arguments. */
export interface EncodedAnchor {
  readonly flags: number;
  readonly handle: NativeObject<'prog'> | NativeObject<'link'> | null;
  readonly relativeId: number;
  readonly expectedRevision: bigint;
}

function positiveId(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 0xffffffff) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `${what} must be a positive 32-bit integer, got ${String(value)}`);
  }
  return value;
}

/** @internal Checks and encodes `before`/`after`/`expectedRevision`. */
export function encodeAnchor(options: AnchorOptions, what: string): EncodedAnchor {
  const { before, after } = options;
  if (before !== undefined && after !== undefined) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `${what}: give before or after, not both`);
  let expectedRevision = 0n;
  if (options.expectedRevision !== undefined) {
    const given: unknown = options.expectedRevision;
    if ((typeof given !== 'number' || !Number.isSafeInteger(given) || given <= 0) && (typeof given !== 'bigint' || given <= 0n || given > 0xffffffffffffffffn)) {
      throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `${what}: expectedRevision must be a positive integer (a revision from queryPrograms), got ${String(given)}`);
    }
    expectedRevision = BigInt(given);
  }
  const anchor = before ?? after;
  if (anchor === undefined) return { flags: 0, handle: null, relativeId: 0, expectedRevision };
  let flags: number = before !== undefined ? AttachFlags.BEFORE : AttachFlags.AFTER;
  if (anchor === 'all') return { flags, handle: null, relativeId: 0, expectedRevision };
  if (anchor instanceof Link) return { flags: flags | AttachFlags.LINK, handle: anchor.handle, relativeId: 0, expectedRevision };
  if (anchor !== null && typeof anchor === 'object' && 'programId' in anchor) {
    return { flags: flags | AttachFlags.ID, handle: null, relativeId: positiveId(anchor.programId, `${what}: programId`), expectedRevision };
  }
  if (anchor !== null && typeof anchor === 'object' && 'linkId' in anchor) {
    flags |= AttachFlags.ID | AttachFlags.LINK;
    return { flags, handle: null, relativeId: positiveId(anchor.linkId, `${what}: linkId`), expectedRevision };
  }
  if (anchor !== null && typeof anchor === 'object' && 'handle' in anchor && typeof (anchor as { id?: unknown }).id === 'number') {
    return { flags, handle: (anchor as BpfProgram).handle, relativeId: 0, expectedRevision };
  }
  throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `${what}: an anchor is a BpfProgram, a Link, { programId }, { linkId } or 'all'`);
}

/** @internal The target of an attach point: cgroup path (checked) or interface index. */
export function resolveAttachPoint(point: AttachPoint, subject: AttachSubject): { cgroup: string | null; ifindex: number; target: string } {
  if (point === null || typeof point !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'give { cgroup } or { interface }');
  if (point.cgroup !== undefined) {
    if (typeof point.cgroup !== 'string' || point.cgroup === '') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'cgroup must be a non-empty path');
    if (point.interface !== undefined) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'give { cgroup } or { interface }, not both');
    return { cgroup: checkCgroup(point.cgroup, subject), ifindex: 0, target: point.cgroup };
  }
  if (point.interface === undefined) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'give { cgroup } or { interface }');
  const { ifindex, name } = resolveInterface(point.interface, subject);
  return { cgroup: null, ifindex, target: name };
}

function attachTypeOf(given: keyof typeof AttachType | number | undefined, program: BpfProgram | undefined, what: string): number {
  if (typeof given === 'string') {
    const value = (AttachType as unknown as Record<string, number | undefined>)[given];
    if (value === undefined) throw argumentError(TypeError, 'ERR_BPFMAP_ATTACH_TYPE', `${what}: unknown attach type ${JSON.stringify(given)}`);
    return value;
  }
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 0) throw argumentError(TypeError, 'ERR_BPFMAP_ATTACH_TYPE', `${what}: attachType must be a name or a non-negative integer`);
    return given;
  }
  if (program?.attachType !== undefined) return program.attachType;
  throw argumentError(TypeError, 'ERR_BPFMAP_ATTACH_TYPE', `${what}: pass attachType (e.g. 'cgroup_inet_ingress', 'tcx_ingress')${program ? `: program '${program.name}' carries none` : ''}`);
}

/** How to BPF_PROG_ATTACH. */
export type ProgAttachOptions = AttachPoint & AnchorOptions & {
  /** The attach type; defaults to the program's. */
  readonly attachType?: keyof typeof AttachType | number;
  /**
   * cgroups: `'multi'` (default: BPF_F_ALLOW_MULTI, programs of this cgroup and its ancestors
   * all run), `'override'` (one program, which a descendant's may override) or `'exclusive'`
   * (one program, none below). tcx attachments are always multi.
   */
  readonly mode?: 'multi' | 'override' | 'exclusive';
  /** Atomically replace this attached program (cgroup multi mode, BPF_F_REPLACE). */
  readonly replace?: BpfProgram;
};

/**
 * A program attached by BPF_PROG_ATTACH: no fd holds it, so it stays attached after the process
 * exits until detached. `close()` detaches it (BPF_PROG_DETACH).
 */
export class ProgramAttachment implements Disposable {
  readonly #program: BpfProgram;
  /** A handle of its own on the program, so that detaching works after the program object is closed. */
  readonly #handle: NativeObject<'prog'>;
  readonly #cgroup: string | null;
  readonly #ifindex: number;
  readonly #flags: number;
  #detached = false;
  /** The attach type number. */
  readonly attachType: number;
  /** The cgroup path or interface name. */
  readonly target: string;

  /** @internal */
  constructor(program: BpfProgram, cgroup: string | null, ifindex: number, attachType: number, target: string, flags: number) {
    const handle = native.objDup(program.handle);
    if (typeof handle === 'number') throw new BpfError(`cannot keep a handle on program '${program.name}' (${errnoName(-handle)})`, { code: errnoName(-handle), errno: -handle });
    this.#handle = handle;
    this.#program = program;
    this.#cgroup = cgroup;
    this.#ifindex = ifindex;
    this.#flags = flags;
    this.attachType = attachType;
    this.target = target;
  }

  /** The attached program. */
  get program(): BpfProgram {
    return this.#program;
  }

  /** True after `close()`/`detach()`. */
  get detached(): boolean {
    return this.#detached;
  }

  /**
   * Detaches the program (BPF_PROG_DETACH), also after the program object was closed.
   * Idempotent; a program detached or replaced meanwhile (ENOENT) counts as detached.
   * @throws BpfError when the kernel refuses for another reason.
   */
  detach(): void {
    if (this.#detached) return;
    // Detach names the program only for multi attachments; a single one is detached by type.
    const multi = this.#cgroup === null || (this.#flags & AttachFlags.ALLOW_MULTI) !== 0;
    const rc = native.progDetach(multi ? this.#handle : null, this.#cgroup, this.#ifindex, this.attachType, 0, null, 0, 0n, null);
    this.#detached = true;
    native.objClose(this.#handle);
    if (rc < 0 && -rc !== Errno.ENOENT) {
      throw new BpfError(`BPF_PROG_DETACH of program '${this.#program.name}' from ${this.target} (${attachTypeName(this.attachType)}) failed with ${errnoName(-rc)}`, { code: errnoName(-rc), errno: -rc, command: 'PROG_DETACH' });
    }
  }

  /** Same as `detach()`. */
  close(): void {
    this.detach();
  }

  [Symbol.dispose](): void {
    this.detach();
  }
}

/**
 * Attaches a program with BPF_PROG_ATTACH to a cgroup or (tcx) an interface: the pre-link way,
 * for kernels without links for the kind, or an attachment that must outlive every fd without a
 * pin. Ordering anchors and `replace` as the kernel allows for the attach point.
 * @throws BpfAttachError for an attach point that does not exist, or the kernel's refusal
 *   (EEXIST: attached already; EPERM: an exclusive program is attached; ESTALE: the revision moved).
 *
 * @example
 * using attached = attachProgramLegacy(program, { cgroup: '/sys/fs/cgroup/app', before: 'all' });
 */
export function attachProgramLegacy(program: BpfProgram, options: ProgAttachOptions): ProgramAttachment {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachProgramLegacy: options must be { cgroup | interface, attachType?, mode?, replace?, before?, after?, expectedRevision? }');
  const attachType = attachTypeOf(options.attachType, program, 'attachProgramLegacy');
  const subject = subjectOf(program, `${attachTypeName(attachType)} (BPF_PROG_ATTACH)`, String(options.cgroup ?? options.interface));
  const point = resolveAttachPoint(options, subject);
  const anchor = encodeAnchor(options, 'attachProgramLegacy');
  const mode = options.mode ?? 'multi';
  if (mode !== 'multi' && mode !== 'override' && mode !== 'exclusive') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `attachProgramLegacy: mode must be 'multi', 'override' or 'exclusive', got ${JSON.stringify(mode)}`);
  let flags = anchor.flags;
  if (point.cgroup !== null) flags |= mode === 'multi' ? AttachFlags.ALLOW_MULTI : mode === 'override' ? AttachFlags.ALLOW_OVERRIDE : 0;
  const replace = options.replace === undefined ? null : options.replace.handle;
  const rc = native.progAttach(program.handle, point.cgroup, point.ifindex, attachType, flags, anchor.handle, anchor.relativeId, anchor.expectedRevision, replace);
  if (rc < 0) {
    throw attachSyscallError(subject, 'BPF_PROG_ATTACH', -rc, 'PROG_ATTACH',
      -rc === Errno.ESTALE ? 'the attach point changed since expectedRevision'
        : -rc === Errno.EEXIST ? 'the program is attached there already'
          : -rc === Errno.ENOENT ? 'the anchor or the program to replace is not attached there' : undefined);
  }
  return new ProgramAttachment(program, point.cgroup, point.ifindex, attachType, point.target, flags);
}

/** One program of a `queryPrograms` answer, in the kernel's run order. */
export interface AttachedProgram {
  readonly programId: number;
  /** The link holding it, 0 for a BPF_PROG_ATTACH attachment (tcx, and cgroups on 6.16+). */
  readonly linkId: number;
  /** Its attach flags (cgroups). */
  readonly flags: number;
}

/** What is attached to an attach point. */
export interface ProgramQuery {
  /** In the order the kernel runs them. */
  readonly programs: readonly AttachedProgram[];
  /** The attach point's flags (cgroups: ALLOW_MULTI/ALLOW_OVERRIDE). */
  readonly attachFlags: number;
  /** Changes on every attach and detach (mprog attach points; 0 elsewhere): give it as `expectedRevision`. */
  readonly revision: bigint;
}

/**
 * The programs attached to a cgroup or an interface for one attach type, in run order
 * (BPF_PROG_QUERY, `bpftool cgroup show` / `bpftool net`).
 * `effective`: a cgroup's programs including those inherited from its ancestors.
 *
 * @example
 * queryPrograms({ interface: 'eth0', attachType: 'tcx_ingress' }).programs.map((p) => p.programId);
 */
export function queryPrograms(options: AttachPoint & { readonly attachType: keyof typeof AttachType | number; readonly effective?: boolean }): ProgramQuery {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'queryPrograms: options must be { cgroup | interface, attachType, effective? }');
  const attachType = attachTypeOf(options.attachType, undefined, 'queryPrograms');
  const subject: AttachSubject = { program: '-', kind: `${attachTypeName(attachType)} query`, target: String(options.cgroup ?? options.interface) };
  const point = resolveAttachPoint(options, subject);
  let capacity = 64;
  for (;;) {
    const ids = new Uint32Array(capacity);
    const flags = new Uint32Array(capacity);
    const links = new Uint32Array(capacity);
    const out = new Float64Array(3);
    // Per-program flags and link ids describe a cgroup's own list: an effective query refuses them.
    // Link ids exist for mprog attach points only (tcx, cgroups from 6.16); where the kernel
    // refuses the pointer, ask again without it.
    const effective = options.effective === true;
    let withLinks = !effective;
    let rc = native.progQuery(point.cgroup, point.ifindex, attachType, effective ? QUERY_EFFECTIVE : 0, ids, effective ? null : flags, withLinks ? links : null, out);
    if (rc === -Errno.EINVAL && withLinks) {
      withLinks = false;
      rc = native.progQuery(point.cgroup, point.ifindex, attachType, 0, ids, flags, null, out);
    }
    const count = out[0] ?? 0;
    if (rc === -Errno.ENOSPC && count > capacity) {
      capacity = count;
      continue;
    }
    if (rc < 0) throw attachSyscallError(subject, 'BPF_PROG_QUERY', -rc, 'PROG_QUERY');
    const programs: AttachedProgram[] = [];
    for (let i = 0; i < count; i++) programs.push({ programId: ids[i] ?? 0, linkId: withLinks ? links[i] ?? 0 : 0, flags: flags[i] ?? 0 });
    return { programs, attachFlags: out[1] ?? 0, revision: BigInt(out[2] ?? 0) };
  }
}

/**
 * @internal A tcx or cgroup link with anchors (link_create.tcx / .cgroup), or the error.
 */
export function linkAnchored(program: BpfProgram, cgroup: string | null, ifindex: number, attachType: number, anchor: EncodedAnchor): NativeObject<'link'> | number {
  return native.linkCreateAnchored(program.handle, cgroup, ifindex, attachType, anchor.flags, anchor.handle, anchor.relativeId, anchor.expectedRevision);
}
