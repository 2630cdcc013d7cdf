/**
 * The native addon's functions, typed. Internal: nothing outside `src/` should import this.
 *
 * Every function returns a non-negative result or `-errno`; it throws only on wrong argument
 * types, which the TypeScript layer rules out before calling.
 */
import { packageFile } from '../package-root.js';

/**
 * A map's binding for element operations (the kernel's key and value sizes, a staging area); it
 * references the map handle it was bound from. Element functions take its numeric `id`.
 */
export interface NativeMapHandle {
  readonly id: NativeMapId;
  /**
   * The map's staging area, owned by the addon: one key (at 0, `max(keySize, 4)` bytes) and one
   * whole wire value (at `valueOffset`), which the `*Staged` functions hand to the kernel.
   */
  readonly staging: ArrayBuffer;
  readonly valueOffset: number;
}

/** Kinds of object handle, by the number the addon knows them by (`obj_kind` in native/common.h). */
export const NativeKind = { map: 1, prog: 2, link: 3, btf: 4, perfEvent: 5, epoll: 6 } as const;
export type NativeKindName = keyof typeof NativeKind;

/**
 * An object the addon owns (a map, program, link, BTF object, perf event, epoll instance): a
 * tagged external holding a private fd that JavaScript never sees as a number. Pass it to addon
 * functions; `objPublicFd` gives a separate fd number for users; `objClose` closes it.
 */
export interface NativeObject<Kind extends NativeKindName = NativeKindName> {
  readonly __nativeObject: Kind;
}

/** The id of an open map handle, as the element functions take it. */
export type NativeMapId = number & { readonly __brand: 'NativeMapId' };

/** A memory mapping: the ArrayBuffer over it and the token `munmap` needs. */
export interface NativeMapping {
  readonly buffer: ArrayBuffer;
  readonly token: unknown;
}

type Bytes = ArrayBufferView;

export interface NativeAddon {
  /** Binds a map handle for element operations (the binding references the handle). */
  mapBind(map: NativeObject<'map'>): NativeMapHandle | number;
  /** MAP_CREATE from the pointer-free prefix; inner_map_fd and btf_fd come only from handles. */
  mapCreate(attr: Uint8Array, innerMap: NativeObject<'map'> | null, btf: NativeObject<'btf'> | null): NativeObject<'map'> | number;
  /** UPDATE_ELEM of the staged key with the private fd of `target` as the value. */
  mapUpdateStagedObject(handle: NativeMapId, target: NativeObject, flags: number): number;
  mapClose(handle: NativeMapId): number;
  mapLookup(handle: NativeMapId, key: Bytes | null, value: Bytes, flags: number): number;
  mapLookupAndDelete(handle: NativeMapId, key: Bytes | null, value: Bytes, flags: number): number;
  mapUpdate(handle: NativeMapId, key: Bytes | null, value: Bytes, flags: number): number;
  mapDelete(handle: NativeMapId, key: Bytes | null): number;
  /** LOOKUP_ELEM of the staged key into the staged value. */
  mapLookupStaged(handle: NativeMapId, flags: number): number;
  /** LOOKUP_AND_DELETE_ELEM of the staged key into the staged value. */
  mapLookupAndDeleteStaged(handle: NativeMapId, flags: number): number;
  /** UPDATE_ELEM of the staged key with the staged value. */
  mapUpdateStaged(handle: NativeMapId, flags: number): number;
  /** DELETE_ELEM of the staged key. */
  mapDeleteStaged(handle: NativeMapId): number;
  mapNextKey(handle: NativeMapId, key: Bytes | null, nextKey: Bytes): number;
  mapFreeze(handle: NativeMapId): number;
  /**
   * A batch reader (native/batch_reader.c): MAP_LOOKUP_BATCH on a thread of its own, over a dup
   * of the map's fd and into its own buffers of `capacity` entries (two batches of them). reader | -errno.
   */
  batchReaderOpen(map: NativeObject<'map'>, capacity: number): NativeBatchReader | number;
  /**
   * Starts reading ahead, batch after batch, pausing after one that does not succeed (ENOENT,
   * ENOSPC, an error) until a start made once every batch is collected; returns at once:
   * 0 | -errno. Idempotent.
   */
  batchReaderStart(reader: NativeBatchReader): number;
  /**
   * Waits for the next batch and copies it into `keys` and `values` (which must hold
   * `capacity` entries) and its count into `countOut[0]`, as `mapBatch` does: 0 | -errno
   * (-ENOENT with a count of 0 once the map is read to its end).
   */
  batchReaderFinish(reader: NativeBatchReader, keys: Bytes, values: Bytes, countOut: Uint32Array): number;
  /** New buffers of `capacity` entries, keeping the position (paused, every batch collected): 0 | -errno. */
  batchReaderResize(reader: NativeBatchReader, capacity: number): number;
  /** Stops the thread after the syscall it may be in, closes the fd, frees the buffers (idempotent). */
  batchReaderClose(reader: NativeBatchReader): number;
  mapBatch(
    handle: NativeMapId,
    command: number,
    inBatch: Bytes | null,
    outBatch: Bytes | null,
    keys: Bytes | null,
    values: Bytes | null,
    count: number,
    elemFlags: number,
    countOut: Uint32Array,
  ): number;
  /** The GET_NEXT_ID commands (attr: id, next_id written back). */
  bpfPlain(command: number, attr: Uint8Array): number;
  /** MAP/PROG/BTF/LINK_GET_FD_BY_ID: a handle of the command's kind | -errno. */
  objGetById<K extends NativeKindName>(command: number, id: number, openFlags: number): NativeObject<K> | number;
  objPin(handle: NativeObject, path: string): number;
  /** OBJ_GET: a handle of the pinned object's kind (see objKind) | -errno (-EINVAL: not a BPF object the addon knows). */
  objGet(path: string, fileFlags: number): NativeObject | number;
  /** OBJ_GET_INFO_BY_FD into addon memory, copied into `info` (at most 4096 bytes): info_len | -errno. */
  objInfo(handle: NativeObject, info: Uint8Array): number;
  /** The ids of the maps a program uses, into `ids`; returns how many there are (maybe more than fit). */
  progMapIds(prog: NativeObject<'prog'>, ids: Uint32Array): number;
  /** The program's xlated instructions, the first `insns.byteLength` bytes of them (at most 1 MiB); returns their whole length in bytes. */
  progXlatedInsns(prog: NativeObject<'prog'>, insns: Uint8Array): number;
  btfInfo(btf: NativeObject<'btf'>, data: Uint8Array | null, name: Uint8Array | null): [btfSize: number, id: number, kernelBtf: number, nameLen: number] | number;
  btfLoad(data: Uint8Array, log: Uint8Array | null, logLevel: number): NativeObject<'btf'> | number;
  /** The kernel's possible-CPU count, checked against sysfs: count | -errno (-EDOM: they disagree). */
  possibleCpus(): number;
  /** Duplicates an fd the caller owns into a handle, checking it is an object of `kind`: handle | -errno (-EINVAL: another kind). */
  objFromFd<K extends NativeKindName>(fd: number, kind: (typeof NativeKind)[K]): NativeObject<K> | number;
  /** The kind number objFromFd would accept `fd` as, 0 for none. */
  objKindOfFd(fd: number): number;
  /** Closes a handle (idempotent); it is `ERR_BPFMAP_CLOSED` as an argument from then on. */
  objClose(handle: NativeObject): number;
  objIsOpen(handle: NativeObject): boolean;
  /** The handle's public fd (a dup owned by the handle, made on first call): fd | -errno. */
  objPublicFd(handle: NativeObject): number;
  /**
   * BPF_PROG_LOAD (native/prog.c). `attr` supplies only the pointer-free fields (type, flags,
   * name, attach type, attach BTF id, kernel version, log level); the addon sets every pointer,
   * count and fd from the other arguments. `maps` fill fd_array, which BPF_PSEUDO_MAP_IDX
   * instructions index. `logTrueSize[0]` receives the log size the kernel needed.
   */
  progLoad(
    attr: Uint8Array,
    instructions: Uint8Array,
    license: string,
    log: Uint8Array | null,
    funcInfo: Uint8Array | null,
    lineInfo: Uint8Array | null,
    /** fd_array: maps (named by map indexes), and module BTF objects (named by kfunc calls' insn.off). */
    maps: readonly (NativeObject<'map'> | NativeObject<'btf'>)[],
    btf: NativeObject<'btf'> | null,
    /** A module's BTF (attach_btf_obj_fd), or for freplace the target program (attach_prog_fd). */
    attachBtfObject: NativeObject<'btf'> | NativeObject<'prog'> | null,
    logTrueSize: Uint32Array,
  ): NativeObject<'prog'> | number;
  /** BPF_PROG_TEST_RUN; `out` receives retval, data_size_out, ctx_size_out, duration: 0 | -errno. */
  progTestRun(
    prog: NativeObject<'prog'>,
    dataIn: Uint8Array | null,
    dataOut: Uint8Array | null,
    ctxIn: Uint8Array | null,
    ctxOut: Uint8Array | null,
    repeat: number,
    flags: number,
    cpu: number,
    batchSize: number,
    out: Uint32Array,
  ): number;
  /** PROG_GET_FD_BY_ID as a handle: prog handle | -errno. */
  progFromId(id: number): NativeObject<'prog'> | number;
  // Links (native/link.c). Each returns a link handle or -errno.
  /** BPF_LINK_CREATE for XDP/tcx (ifindex), tracing/lsm (btf id, cookie) and iterators (optional map). */
  linkCreate(
    prog: NativeObject<'prog'>,
    attachType: number,
    targetIfindex: number,
    flags: number,
    targetBtfId: number,
    cookie: bigint,
    iterMap: NativeObject<'map'> | null,
  ): NativeObject<'link'> | number;
  /** BPF_LINK_CREATE on the cgroup directory at `cgroupPath` (opened for the call only). */
  linkCreateCgroup(prog: NativeObject<'prog'>, cgroupPath: string, attachType: number, flags: number): NativeObject<'link'> | number;
  /** BPF_RAW_TRACEPOINT_OPEN; name null for programs whose target was fixed at load. */
  rawTracepointOpen(prog: NativeObject<'prog'>, name: string | null, cookie: bigint): NativeObject<'link'> | number;
  /**
   * perf_event_open + BPF_LINK_CREATE(BPF_PERF_EVENT) + PERF_EVENT_IOC_ENABLE, closing the perf
   * fd (the link holds the event): link | [stage (1 open, 2 link, 3 enable), errno].
   */
  perfLinkCreate(
    prog: NativeObject<'prog'>,
    type: number,
    config: bigint,
    name: string | null,
    config2: bigint,
    pid: number,
    cpu: number,
    samplePeriod: bigint,
    frequency: boolean,
    cookie: bigint,
  ): NativeObject<'link'> | [stage: number, errno: number];
  /** BPF_LINK_CREATE(BPF_TRACE_KPROBE_MULTI) on kernel functions by name. */
  kprobeMultiLinkCreate(prog: NativeObject<'prog'>, symbols: string[], retprobe: boolean, cookies: BigUint64Array | null): NativeObject<'link'> | number;
  /** BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI): many file offsets of one binary; pid 0 for every process. */
  uprobeMultiLinkCreate(
    prog: NativeObject<'prog'>,
    path: string,
    offsets: BigUint64Array,
    refCtrOffsets: BigUint64Array | null,
    cookies: BigUint64Array | null,
    pid: number,
    retprobe: boolean,
  ): NativeObject<'link'> | number;
  /** BPF_LINK_DETACH: 0 | -errno. */
  linkDetach(link: NativeObject<'link'>): number;
  /** BPF_LINK_UPDATE (BPF_F_REPLACE with oldProg): 0 | -errno. */
  linkUpdate(link: NativeObject<'link'>, newProg: NativeObject<'prog'>, oldProg: NativeObject<'prog'> | null): number;
  /** struct bpf_link_info into `info` (64 bytes, pointers zeroed); returns the link's name text ('' if none) | -errno. */
  linkInfo(link: NativeObject<'link'>, info: Uint8Array): string | number;
  /** BPF_ITER_CREATE and read to the end (at most maxBytes, else -E2BIG). */
  iterRead(link: NativeObject<'link'>, maxBytes: number): ArrayBuffer | number;
  linkPin(link: NativeObject<'link'>, path: string): number;
  /** OBJ_GET of a link pin: handle | -errno (-EMEDIUMTYPE when the pin is not a link). */
  linkGetPinned(path: string): NativeObject<'link'> | number;
  /** LINK_GET_FD_BY_ID: handle | -errno (-EMEDIUMTYPE never: ids are per kind). */
  linkFromId(id: number): NativeObject<'link'> | number;
  /** LINK_GET_NEXT_ID: the next link id above `id` | -errno (-ENOENT past the last). */
  linkNextId(id: number): number;
  // struct_ops (native/struct_ops.c).
  /** MAP_UPDATE_ELEM of a struct_ops map's value, each program's private fd written at its slot offset: 0 | -errno. */
  structOpsUpdate(map: NativeObject<'map'>, value: Uint8Array, slots: Uint32Array, programs: NativeObject<'prog'>[]): number;
  /** BPF_LINK_CREATE(BPF_STRUCT_OPS) of a BPF_F_LINK struct_ops map: link | -errno. */
  structOpsLinkCreate(map: NativeObject<'map'>): NativeObject<'link'> | number;
  /** BPF_LINK_UPDATE of a struct_ops link to another BPF_F_LINK struct_ops map; with oldMap, BPF_F_REPLACE: 0 | -errno. */
  structOpsLinkUpdate(link: NativeObject<'link'>, newMap: NativeObject<'map'>, oldMap: NativeObject<'map'> | null): number;
  // Legacy attach, query, anchored and freplace links (native/prog_attach.c).
  /** BPF_PROG_ATTACH to a cgroup (path) or interface (ifindex, path null); anchor: program/link handle or null (then relativeId); replace sets BPF_F_REPLACE: 0 | -errno. */
  progAttach(prog: NativeObject<'prog'>, cgroupPath: string | null, ifindex: number, attachType: number, flags: number, anchor: NativeObject<'prog'> | NativeObject<'link'> | null, relativeId: number, expectedRevision: bigint, replace: NativeObject<'prog'> | null): number;
  /** BPF_PROG_DETACH (prog null: the one program of a non-multi cgroup attachment): 0 | -errno. */
  progDetach(prog: NativeObject<'prog'> | null, cgroupPath: string | null, ifindex: number, attachType: number, flags: number, anchor: NativeObject<'prog'> | NativeObject<'link'> | null, relativeId: number, expectedRevision: bigint, replace: null): number;
  /** BPF_PROG_QUERY; out receives [count, attach_flags, revision]: 0 | -errno (-ENOSPC: more than progIds holds). */
  progQuery(cgroupPath: string | null, ifindex: number, attachType: number, queryFlags: number, progIds: Uint32Array, progFlags: Uint32Array | null, linkIds: Uint32Array | null, out: Float64Array): number;
  /** BPF_LINK_CREATE for tcx/cgroup with before/after anchors and an expected revision: link | -errno. */
  linkCreateAnchored(prog: NativeObject<'prog'>, cgroupPath: string | null, ifindex: number, attachType: number, flags: number, anchor: NativeObject<'prog'> | NativeObject<'link'> | null, relativeId: number, expectedRevision: bigint): NativeObject<'link'> | number;
  /** BPF_LINK_CREATE of an extension (freplace) program onto function `targetBtfId` of `target` (null, 0: its load-time target): link | -errno. */
  linkCreateFreplace(prog: NativeObject<'prog'>, target: NativeObject<'prog'> | null, targetBtfId: number): NativeObject<'link'> | number;
  /** The handle's kind number (`NativeKind`). */
  objKind(handle: NativeObject): number;
  /** A new handle on the same object, with its own private fd. */
  objDup<K extends NativeKindName>(handle: NativeObject<K>): NativeObject<K> | number;
  /** A new fd on the object that the caller owns and closes (for public functions returning fds): fd | -errno. */
  objExportFd(handle: NativeObject): number;
  /** /proc/self/fdinfo of the private fd: text | -errno. */
  objFdInfo(handle: NativeObject): string | number;
  mmap(handle: NativeObject, length: number, writable: boolean, offset: number): NativeMapping | number;
  munmap(mapping: NativeMapping): number;
  epollCreate(): NativeObject<'epoll'> | number;
  epollCtl(epoll: NativeObject<'epoll'>, op: number, target: NativeObject, events: number, data: number): number;
  epollWait(epoll: NativeObject<'epoll'>, out: Uint32Array, timeoutMs: number): number;
  /** Bytes of a memory page. */
  pageSize(): number;
  /** A PERF_COUNT_SW_BPF_OUTPUT perf event on one CPU (PERF_SAMPLE_RAW): fd | -errno. */
  perfEventOpen(cpu: number, wakeupEvents: number, sampleTime: boolean): NativeObject<'perfEvent'> | number;
  /** PERF_EVENT_IOC_ENABLE: 0 | -errno. */
  perfEventEnable(perfEvent: NativeObject<'perfEvent'>): number;
  /**
   * A libuv poll handle on `fd`; `callback(status, events)` runs once per `watchStart`.
   * `latched`: readable is polled for the handle's whole life and remembered while disarmed
   * (for perf event fds, whose poll() reports readiness only once). The watcher keeps the
   * handle's fd open until `watchClose`.
   */
  watchFd(handle: NativeObject, callback: (status: number, events: number) => void, latched: boolean): NativeWatcher | number;
  /** Arms the watcher for one readable (or writable) event: 0, 1 (latched: ready already) or -errno. */
  watchStart(watcher: NativeWatcher, writable: boolean): number;
  /** Disarms the watcher. */
  watchStop(watcher: NativeWatcher): number;
  /** Closes the watcher (idempotent) and releases the handle's fd. */
  watchClose(watcher: NativeWatcher): number;
}

/** Opaque handle of a native batch reader (`batchReaderOpen`). */
export interface NativeBatchReader {
  readonly __brand: 'NativeBatchReader';
}

/** Opaque handle of a native fd watcher (`watchFd`). */
export interface NativeWatcher {
  readonly __brand: 'NativeWatcher';
}

function load(): NativeAddon {
  // Found from the package root, wherever this module runs from (dist/src/sys, the CLI's bundle).
  const candidates = [packageFile('build/Release/bpfmap_native.node'), packageFile('build/Debug/bpfmap_native.node')];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      // The addon's exports object is built one property at a time, which leaves V8 with a
      // dictionary-mode object: every call would then start with a hash lookup. A spread copy
      // has fast properties, so the JIT loads each function from a fixed slot.
      // process.dlopen rather than require(): loading node:module for its require would cost
      // start-up time (it brings the source-map support with it), and an addon needs neither.
      const addon = { exports: {} as NativeAddon };
      process.dlopen(addon, candidate);
      return { ...addon.exports };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(
    `bpfmap: the native addon is not built (looked for ${candidates[0]}); it builds when the package installs: ` +
      'run `npm rebuild bpfmap` (installed with --ignore-scripts?), or `npm ci` in a clone of bpfmap itself',
    { cause: lastError },
  );
}

/**
 * Objects that own a native handle expose it under this symbol, so that functions taking another
 * object (`setFd`, `innerMap`, ...) pass the handle, never an fd number.
 */
export const nativeObject: unique symbol = Symbol('bpfmap.nativeObject');

/** An object that owns a native handle (a BpfMap, a BpfProgram, ...). */
export interface HasNativeObject<K extends NativeKindName = NativeKindName> {
  readonly [nativeObject]: NativeObject<K>;
}

/** The handle of a bpfmap object, or undefined for anything else. */
export function nativeObjectOf(value: unknown): NativeObject | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  return nativeObject in value ? (value as HasNativeObject)[nativeObject] : undefined;
}

/** Turns a `-errno` or a handle into the handle, or throws what `fail(errno)` returns. */
export function handleOrThrow<T extends object>(result: T | number, fail: (errno: number) => Error): T {
  if (typeof result === 'number') throw fail(-result);
  return result;
}

/** The loaded addon. */
export const native: NativeAddon = load();
