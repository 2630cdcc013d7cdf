/**
 * Tracepoints (`SEC("tracepoint/CATEGORY/NAME")`): a perf event of type PERF_TYPE_TRACEPOINT
 * whose config is the tracepoint's id from tracefs, linked to the program.
 */
import { argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { createPerfLink, probeScope } from './perf-link.js';
import type { Link } from './link.js';
import { subjectOf } from './link.js';
import { tracepointId } from './tracefs.js';

const PERF_TYPE_TRACEPOINT = 2;

/** Which tracepoint, and for whom. */
export interface TracepointOptions {
  /** `'syscalls'` in `syscalls/sys_enter_getpid`. */
  readonly category: string;
  /** `'sys_enter_getpid'`. */
  readonly name: string;
  /** A value the program reads with bpf_get_attach_cookie(). */
  readonly cookie?: bigint;
}

/**
 * Attaches a tracepoint program.
 * @throws BpfAttachError `ERR_BPFMAP_TRACEFS` when tracefs is not mounted (it publishes the
 * tracepoint ids), `ERR_BPFMAP_ATTACH_SYMBOL` when the tracepoint does not exist.
 *
 * @example
 * using link = attachTracepoint(program, { category: 'syscalls', name: 'sys_enter_getpid' });
 */
export function attachTracepoint(program: BpfProgram, options: TracepointOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.category !== 'string' || typeof options.name !== 'string') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachTracepoint: options must be { category, name, cookie? }');
  }
  const subject = subjectOf(program, 'tracepoint', `${options.category}/${options.name}`);
  const id = tracepointId(options.category, options.name, subject);
  return createPerfLink(program, subject, {
    type: PERF_TYPE_TRACEPOINT,
    config: BigInt(id),
    name: null,
    config2: 0n,
    ...probeScope(undefined),
    samplePeriod: 0n,
    frequency: false,
    cookie: options.cookie ?? 0n,
  });
}
