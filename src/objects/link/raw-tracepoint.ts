/**
 * Raw tracepoints (`SEC("raw_tracepoint/NAME")`, `raw_tp/`): the program gets the tracepoint's
 * raw arguments; attached by name with BPF_RAW_TRACEPOINT_OPEN, no tracefs needed.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError } from './errors.js';
import { Link, linkOrThrow, subjectOf, withProgramHandle } from './link.js';

/**
 * Attaches a raw tracepoint program to tracepoint `name` (`'sys_enter'`, `'sched_switch'`).
 * @throws BpfAttachError `ENOENT` (code) when the kernel has no tracepoint of that name.
 */
export function attachRawTracepoint(program: BpfProgram, name: string, options: { cookie?: bigint } = {}): Link {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_]{1,255}$/.test(name)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_TRACEPOINT', `raw tracepoint name must be letters, digits and '_', got ${JSON.stringify(name)}`);
  }
  const subject = subjectOf(program, 'raw_tracepoint', name);
  const result = withProgramHandle(program, (prog) => native.rawTracepointOpen(prog, name, options.cookie ?? 0n));
  if (result === -Errno.ENOENT) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `the kernel has no tracepoint '${name}' (BPF_RAW_TRACEPOINT_OPEN: ENOENT)`, { errno: Errno.ENOENT, command: 'RAW_TRACEPOINT_OPEN' });
  }
  return linkOrThrow(result, subject, 'BPF_RAW_TRACEPOINT_OPEN', 'RAW_TRACEPOINT_OPEN', (errno) =>
    errno === Errno.EINVAL ? `is '${program.name}' a raw_tracepoint program (SEC("raw_tp/${name}"))?` : undefined,
  );
}
