/**
 * The native addon's functions, typed. Internal: nothing outside `src/` should import this.
 *
 * Every function returns a non-negative result or `-errno`; it throws only on wrong argument
 * types, which the TypeScript layer rules out before calling.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * What the addon keeps per open map (the fd plus the kernel's key and value sizes). The object
 * owns the fd, which is closed when it is collected; element functions take its numeric `id`.
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
  mapBind(fd: number): NativeMapHandle | number;
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
  bpfPlain(command: number, attr: Uint8Array): number;
  objPin(fd: number, path: string): number;
  objGet(path: string, fileFlags: number): number;
  objInfo(fd: number, info: Uint8Array): number;
  /** The ids of the maps a program uses, into `ids`; returns how many there are (maybe more than fit). */
  progMapIds(fd: number, ids: Uint32Array): number;
  btfInfo(fd: number, data: Uint8Array | null, name: Uint8Array | null): [btfSize: number, id: number, kernelBtf: number, nameLen: number] | number;
  btfLoad(data: Uint8Array, log: Uint8Array | null, logLevel: number): number;
  closeFd(fd: number): number;
  dupFd(fd: number): number;
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
    maps: readonly NativeObject<'map'>[],
    btf: NativeObject<'btf'> | null,
    attachBtfObject: NativeObject<'btf'> | null,
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
  mmap(fd: number, length: number, writable: boolean, offset: number): NativeMapping | number;
  munmap(mapping: NativeMapping): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  epollWait(epfd: number, out: Uint32Array, timeoutMs: number): number;
  /** Bytes of a memory page. */
  pageSize(): number;
  /** A PERF_COUNT_SW_BPF_OUTPUT perf event on one CPU (PERF_SAMPLE_RAW): fd | -errno. */
  perfEventOpen(cpu: number, wakeupEvents: number, sampleTime: boolean): number;
  /** PERF_EVENT_IOC_ENABLE: 0 | -errno. */
  perfEventEnable(fd: number): number;
  /**
   * A libuv poll handle on `fd`; `callback(status, events)` runs once per `watchStart`.
   * `latched`: readable is polled for the handle's whole life and remembered while disarmed
   * (for perf event fds, whose poll() reports readiness only once).
   */
  watchFd(fd: number, callback: (status: number, events: number) => void, latched: boolean): NativeWatcher | number;
  /** Arms the watcher for one readable (or writable) event: 0, 1 (latched: ready already) or -errno. */
  watchStart(watcher: NativeWatcher, writable: boolean): number;
  /** Disarms the watcher. */
  watchStop(watcher: NativeWatcher): number;
  /** Closes the watcher (idempotent); close its fd only after this. */
  watchClose(watcher: NativeWatcher): number;
}

/** Opaque handle of a native fd watcher (`watchFd`). */
export interface NativeWatcher {
  readonly __brand: 'NativeWatcher';
}

function load(): NativeAddon {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/sys -> package root; also works from src/sys when run through a TS loader.
  const candidates = [
    path.resolve(here, '../../../build/Release/bpfmap_native.node'),
    path.resolve(here, '../../build/Release/bpfmap_native.node'),
    path.resolve(here, '../../../build/Debug/bpfmap_native.node'),
  ];
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

/** The loaded addon. */
export const native: NativeAddon = load();
