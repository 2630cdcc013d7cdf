/**
 * Iterators (`SEC("iter/bpf_map")`, `iter/task`, `iter/bpf_map_elem`, ...): a link of attach
 * type BPF_TRACE_ITER, from which each read creates a fresh iterator (BPF_ITER_CREATE) whose
 * output is what the program wrote with bpf_seq_printf()/bpf_seq_write().
 */
import { native, NativeKind, type NativeObject } from '../../sys/native.js';
import { BpfError, Errno, argumentError, errnoName } from '../../sys/errors.js';
import { AttachType } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { Link, linkOrThrow, subjectOf, withProgramHandle } from './link.js';

/** A map (anything with an fd), for iterators over one map's elements. */
export interface IterMap {
  readonly fd: number;
}

/** An iterator link: `read()` runs the iterator once and returns everything it wrote. */
export class IterLink extends Link {
  /** @internal Wraps an iter link handle. */
  static adoptIter(handle: NativeObject<'link'>, program: string, target: string | undefined): IterLink {
    return new IterLink(handle, { program, kind: 'iter', ...(target !== undefined ? { target } : {}) });
  }

  /**
   * Runs the iterator to its end (BPF_ITER_CREATE, then reads until EOF).
   * @param maxBytes fail with E2BIG instead of buffering more than this (default 64 MiB).
   */
  read(maxBytes = 64 << 20): Uint8Array {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0 || maxBytes > 2 ** 31) throw argumentError(RangeError, 'ERR_BPFMAP_SIZE', `maxBytes must be in 1..2^31, got ${maxBytes}`);
    const out = native.iterRead(this.handle, maxBytes);
    if (typeof out === 'number') {
      const errno = -out;
      const why = errno === Errno.E2BIG ? `the output passed ${maxBytes} bytes (raise maxBytes)` : `failed with ${errnoName(errno)}`;
      throw new BpfError(`iterator '${this.program}' (${this.target ?? 'iter'}): ${why}`, { code: errnoName(errno), errno, command: 'ITER_CREATE' });
    }
    return new Uint8Array(out);
  }

  /** `read()` as UTF-8 text. */
  readText(maxBytes?: number): string {
    return Buffer.from(this.read(maxBytes)).toString('utf8');
  }
}

/**
 * Attaches an iterator program. `map` is for iterators over one map (`iter/bpf_map_elem`,
 * `iter/bpf_sk_storage_map`); others iterate everything of their kind.
 *
 * @example
 * using iter = attachIter(program); // SEC("iter/bpf_map")
 * console.log(iter.readText());
 */
export function attachIter(program: BpfProgram, options: { map?: IterMap } = {}): IterLink {
  const target = program.sectionName?.startsWith('iter') ? program.sectionName.slice(program.sectionName.indexOf('/') + 1) : undefined;
  const subject = subjectOf(program, 'iter', target);
  let mapHandle: NativeObject<'map'> | null = null;
  if (options.map !== undefined) {
    const handle = native.objFromFd<'map'>(options.map.fd, NativeKind.map);
    if (typeof handle === 'number') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `attachIter: options.map is not an open BPF map (${errnoName(-handle)})`);
    mapHandle = handle;
  }
  try {
    const result = withProgramHandle(program, (prog) => native.linkCreate(prog, AttachType.trace_iter, 0, 0, 0, 0n, mapHandle));
    if (typeof result !== 'number') return IterLink.adoptIter(result, subject.program, target);
    return linkOrThrow(result, subject, 'BPF_LINK_CREATE (iter)', 'LINK_CREATE', (errno) =>
      errno === Errno.EINVAL ? (options.map ? 'this iterator does not take a map, or the map type does not fit' : `is '${program.name}' an iter/ program? Iterators over one map's elements need options.map`) : undefined,
    ) as never;
  } finally {
    if (mapHandle) native.objClose(mapHandle);
  }
}
