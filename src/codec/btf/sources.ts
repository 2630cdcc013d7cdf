/**
 * Where BTF comes from: a buffer or file (raw BTF or an ELF object's `.BTF` section), the kernel
 * (`/sys/kernel/btf/vmlinux`, module BTF split over it), or a loaded BTF object by id or fd (what
 * a map's `btf_id` names).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { native, NativeKind, type NativeObject } from '../../sys/native.js';
import { argumentError, BpfError, Errno } from '../../sys/errors.js';
import { Command } from '../../sys/commands.js';
import { idAttr, StructBuffer } from '../../sys/layout.js';
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { elfSection } from './elf.js';

/**
 * The most bytes a BTF file may have: vmlinux BTF is a few MiB and BPF objects are smaller; a
 * device (`/dev/zero`) or a FIFO would otherwise be read without end.
 */
export const MAX_BTF_FILE_BYTES = 256 << 20;

/**
 * Reads a whole file, refusing one larger than `maxBytes` without reading past it (stat says 0
 * bytes for devices and pipes that never end, so the size cannot be trusted up front).
 * @throws BtfError `ERR_BTF_UNSUPPORTED` naming the limit.
 */
export function readFileBounded(path: string, maxBytes = MAX_BTF_FILE_BYTES): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    // One buffer, sized from stat when it tells (regular files, /sys/kernel/btf/*) and doubled
    // when the file turns out longer. sysfs hands out one page per read(2): a buffer per read
    // (as this once did) zero-filled a MiB per 4 KiB of vmlinux BTF, 1.3 GiB for one cold load.
    const hinted = fstatSync(fd).size;
    let bytes = new Uint8Array(Math.min(maxBytes + 1, hinted > 0 ? hinted : 1 << 16));
    let total = 0;
    const probe = new Uint8Array(1 << 12);
    for (;;) {
      if (total === bytes.length) {
        // Full: read a little more to tell the end of the file from a longer one.
        const extra = readSync(fd, probe, 0, probe.length, null);
        if (extra === 0) return bytes;
        if (total + extra > maxBytes) break;
        const grown = new Uint8Array(Math.min(maxBytes + 1, Math.max(bytes.length * 2, total + extra)));
        grown.set(bytes);
        grown.set(probe.subarray(0, extra), total);
        bytes = grown;
        total += extra;
        continue;
      }
      const read = readSync(fd, bytes, total, bytes.length - total, null);
      if (read === 0) return total === bytes.length ? bytes : bytes.slice(0, total);
      total += read;
      if (total > maxBytes) break;
    }
    throw new BtfError('ERR_BTF_UNSUPPORTED', `${path} is larger than ${maxBytes} bytes, more than any BTF file or BPF object (is it a device?)`);
  } finally {
    closeSync(fd);
  }
}

/** Where the running kernel exposes its BTF. */
export const VMLINUX_BTF_PATH = '/sys/kernel/btf/vmlinux';

let vmlinux: Btf | undefined;

/** BTF objects looked at for vmlinux's: it is the first the kernel registers (id 1), modules' follow. */
const VMLINUX_ID_SEARCH = 8;

/**
 * vmlinux BTF copied out of the kernel's BTF object by one OBJ_GET_INFO_BY_FD, the same bytes
 * sysfs serves (both are the kernel's .BTF section): sysfs hands /sys/kernel/btf/vmlinux out one
 * page per read(2), 1,340 system calls for 5.4 MB. Needs CAP_SYS_ADMIN (BTF_GET_FD_BY_ID);
 * undefined when that is refused or no kernel BTF object is named vmlinux.
 * @internal
 */
export function vmlinuxFromKernel(): Uint8Array | undefined {
  const attr = new StructBuffer(idAttr);
  const name = new Uint8Array(64);
  let id = 0;
  for (let looked = 0; looked < VMLINUX_ID_SEARCH; looked++) {
    attr.setU32('id', id).setU32('next_id', 0);
    if (native.bpfPlain(Command.BTF_GET_NEXT_ID, attr.bytes) < 0) return undefined;
    id = attr.u32('next_id');
    const handle = native.objGetById<'btf'>(Command.BTF_GET_FD_BY_ID, id, 0);
    if (typeof handle === 'number') return undefined;
    try {
      name.fill(0);
      const info = native.btfInfo(handle, null, name);
      if (typeof info === 'number') return undefined;
      const [size, , kernelFlag] = info;
      if (kernelFlag === 0 || Buffer.from(name.subarray(0, name.indexOf(0))).toString('latin1') !== 'vmlinux') continue;
      const data = new Uint8Array(size);
      const copied = native.btfInfo(handle, data, null);
      return typeof copied === 'number' || copied[0] !== size ? undefined : data;
    } finally {
      native.objClose(handle);
    }
  }
  return undefined;
}

/**
 * The running kernel's BTF, parsed once per process (lazily, so this is cheap): copied from the
 * kernel in one system call where the process may (see `vmlinuxFromKernel`), else read from
 * /sys/kernel/btf/vmlinux.
 * @throws Error when the kernel has no BTF (CONFIG_DEBUG_INFO_BTF off).
 */
export function kernelBtf(): Btf {
  vmlinux ??= Btf.parse(vmlinuxFromKernel() ?? readFileBounded(VMLINUX_BTF_PATH));
  return vmlinux;
}

/**
 * Parses BTF from bytes that are either raw BTF or an ELF object with a `.BTF` section.
 * @throws BtfError when neither, or when the BTF is malformed.
 */
export function btfFromBytes(bytes: Uint8Array, options: { base?: Btf } = {}): Btf {
  if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const section = elfSection(bytes, '.BTF');
    if (!section) throw new BtfError('ERR_BTF_ELF', 'the ELF object has no .BTF section (compile with -g)');
    return Btf.parse(section, options);
  }
  return Btf.parse(bytes, options);
}

/**
 * Reads BTF from a file: an ELF object (`.bpf.o`), or raw BTF such as `/sys/kernel/btf/<module>`
 * (module BTF is split BTF: pass `base: kernelBtf()`; files under /sys/kernel/btf other than
 * vmlinux get it automatically).
 */
export function btfFromFile(path: string, options: { base?: Btf } = {}): Btf {
  const base = options.base ?? (path.startsWith('/sys/kernel/btf/') && path !== VMLINUX_BTF_PATH ? kernelBtf() : undefined);
  return btfFromBytes(readFileBounded(path), base ? { base } : {});
}

/** What the kernel says about a loaded BTF object. */
export interface LoadedBtf {
  /** The parsed types. */
  readonly btf: Btf;
  /** Kernel-wide BTF object id. */
  readonly id: number;
  /** The object's name (`'vmlinux'` or a module's name for kernel BTF, usually `''` otherwise). */
  readonly name: string;
  /** True for the kernel's and modules' BTF. */
  readonly kernel: boolean;
}

/**
 * Reads the BTF object behind an fd (the caller keeps the fd). Module BTF is parsed over vmlinux.
 * @throws BpfError (OBJ_GET_INFO_BY_FD) when the fd is not a BTF object.
 */
export function btfFromFd(fd: number): LoadedBtf {
  if (!Number.isInteger(fd) || fd < 0) throw argumentError(RangeError, 'ERR_BPFMAP_FD', `fd must be a non-negative integer, got ${fd}`);
  const handle = native.objFromFd<'btf'>(fd, NativeKind.btf);
  if (typeof handle === 'number') {
    throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -handle, undefined, -handle === Errno.EINVAL ? `fd ${fd} is not a BTF object` : `cannot use fd ${fd}`);
  }
  try {
    return btfFromHandle(handle);
  } finally {
    native.objClose(handle);
  }
}

/** @internal Reads the BTF object behind a handle. */
export function btfFromHandle(handle: NativeObject<'btf'>): LoadedBtf {
  const sizes = native.btfInfo(handle, null, null);
  if (typeof sizes === 'number') throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -sizes);
  const [size, , , nameLength] = sizes;
  const data = new Uint8Array(size);
  const nameBytes = new Uint8Array(nameLength + 1);
  const info = native.btfInfo(handle, data, nameBytes);
  if (typeof info === 'number') throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -info);
  const [, id, kernelFlag] = info;
  const nameEnd = nameBytes.indexOf(0);
  const name = Buffer.from(nameBytes.subarray(0, nameEnd < 0 ? nameBytes.length : nameEnd)).toString('latin1');
  const kernel = kernelFlag !== 0;
  const base = kernel && name !== 'vmlinux' ? kernelBtf() : undefined;
  return { btf: Btf.parse(data, base ? { base } : {}), id, name, kernel };
}

/**
 * Opens a loaded BTF object by its kernel-wide id (what `bpf_map_info.btf_id` holds) and reads it.
 * Needs CAP_SYS_ADMIN.
 * @throws BpfError (BTF_GET_FD_BY_ID) with code ENOENT when no BTF has that id.
 */
export function btfFromId(id: number): LoadedBtf {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new RangeError(`BTF id must be a positive 32-bit integer, got ${id}`);
  const handle = native.objGetById<'btf'>(Command.BTF_GET_FD_BY_ID, id, 0);
  if (typeof handle === 'number') {
    // Not check(): its subject would read 'map id N', and this id is a BTF object's.
    const reason = -handle === Errno.ENOENT ? `no BTF object with id ${id}` : undefined;
    throw reason === undefined ? BpfError.fromErrno('BTF_GET_FD_BY_ID', -handle, undefined, `BTF id ${id}`) : BpfError.withReason('BTF_GET_FD_BY_ID', -handle, reason);
  }
  const btf = handle;
  try {
    return btfFromHandle(btf);
  } finally {
    native.objClose(btf);
  }
}
