/**
 * uprobes and uretprobes (`SEC("uprobe/BINARY:FUNCTION")`): a perf event of the `uprobe` PMU on
 * a file offset of a binary or library, linked to the program. Functions are found by name in
 * the binary's own ELF symbol tables (`.symtab`, then `.dynsym`), as libbpf does.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Errno, argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { ElfFormatError, findElfFunction } from './elf-symbols.js';
import { BpfAttachError, type AttachSubject } from './errors.js';
import type { Link } from './link.js';
import { subjectOf } from './link.js';
import { checkPid, createPerfLink, probeScope } from './perf-link.js';
import { probePmu } from './pmu.js';

/** Where to put a uprobe. */
export interface UprobeOptions {
  /** Path of the binary or library; a bare name is looked up in PATH. */
  readonly binary: string;
  /** The function to probe; without it, `offset` is a file offset. */
  readonly symbol?: string;
  /** Bytes into the function (or into the file, without `symbol`). */
  readonly offset?: number;
  /** A uretprobe: fire when the function returns. */
  readonly retprobe?: boolean;
  /** Only this process (default: every process that runs the binary). */
  readonly pid?: number;
  /** A value the program reads with bpf_get_attach_cookie(). */
  readonly cookie?: bigint;
  /** File offset of a USDT-style semaphore the kernel increments while the probe is attached. */
  readonly refCounterOffset?: number;
}

/** The absolute path of `binary`: itself when it has a slash, else the first executable match in PATH. */
export function resolveBinary(binary: string, subject: AttachSubject): string {
  if (binary.includes('/')) {
    const absolute = path.resolve(binary);
    try {
      if (!statSync(absolute).isFile()) throw new Error('not a file');
    } catch {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `no binary at ${absolute}`);
    }
    return absolute;
  }
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = path.resolve(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `no executable '${binary}' in PATH (give a path to probe a library)`);
}

/**
 * The file offset of function `symbol` in `binaryPath` (plus `offset`).
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_SYMBOL` when the binary has no such function.
 */
export function uprobeOffset(binaryPath: string, symbol: string, offset: number, subject: AttachSubject): bigint {
  let file: Uint8Array;
  try {
    file = readFileSync(binaryPath);
  } catch (error) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `cannot read ${binaryPath}: ${(error as Error).message}`, { cause: error });
  }
  let found;
  try {
    found = findElfFunction(file, symbol);
  } catch (error) {
    if (error instanceof ElfFormatError) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `${binaryPath}: ${error.message}`, { cause: error });
    throw error;
  }
  if (found === undefined) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `${binaryPath} has no function '${symbol}' in its .symtab or .dynsym`);
  return found.fileOffset + BigInt(offset);
}

/**
 * Attaches a uprobe (or uretprobe) program to a function of a binary.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_BINARY` / `ERR_BPFMAP_ATTACH_SYMBOL` when the binary
 * or function is missing; `ERR_BPFMAP_ATTACH_UNSUPPORTED` without CONFIG_UPROBE_EVENTS.
 *
 * @example
 * using link = attachUprobe(program, { binary: '/usr/bin/bash', symbol: 'readline', retprobe: true });
 */
export function attachUprobe(program: BpfProgram, options: UprobeOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.binary !== 'string' || options.binary === '') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachUprobe: options must be { binary, symbol?, offset?, retprobe?, pid?, cookie? }');
  }
  if (options.symbol !== undefined && (typeof options.symbol !== 'string' || options.symbol === '')) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'uprobe symbol must be a non-empty string');
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw argumentError(RangeError, 'ERR_BPFMAP_OFFSET', `uprobe offset must be a non-negative integer, got ${offset}`);
  if (options.symbol === undefined && offset === 0) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachUprobe: give a symbol, or the file offset to probe');
  if (options.retprobe && options.symbol !== undefined && offset !== 0) throw argumentError(RangeError, 'ERR_BPFMAP_OFFSET', 'uretprobes take no offset into a function');
  const refCounter = options.refCounterOffset ?? 0;
  if (!Number.isSafeInteger(refCounter) || refCounter < 0 || refCounter > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_OFFSET', `refCounterOffset must be a 32-bit file offset, got ${refCounter}`);
  checkPid(options.pid);
  const kind = options.retprobe ? 'uretprobe' : 'uprobe';
  const target = `${options.binary}:${options.symbol ?? ''}${offset ? `+${offset}` : ''}`;
  const subject = subjectOf(program, kind, target);
  const pmu = probePmu('uprobe');
  if (pmu === undefined) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', 'the kernel has no uprobe PMU at /sys/bus/event_source/devices/uprobe (built without CONFIG_UPROBE_EVENTS, or before Linux 4.17)');
  }
  const binaryPath = resolveBinary(options.binary, subject);
  const fileOffset = options.symbol === undefined ? BigInt(offset) : uprobeOffset(binaryPath, options.symbol, offset, subject);
  return createPerfLink(
    program,
    subject,
    {
      type: pmu.type,
      config: (options.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n) | (BigInt(refCounter) << 32n),
      name: binaryPath,
      config2: fileOffset,
      ...probeScope(options.pid),
      samplePeriod: 0n,
      frequency: false,
      cookie: options.cookie ?? 0n,
    },
    { open: (errno) => (errno === Errno.ENOENT ? `${binaryPath} is gone` : errno === Errno.EINVAL ? `offset ${fileOffset} of ${binaryPath} cannot be probed` : undefined) },
  );
}
