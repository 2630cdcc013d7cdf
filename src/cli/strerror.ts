/**
 * glibc's `strerror` wording for the errnos map lookups return, so that messages bpftool prints
 * from `strerror(errno)` (a dump's `{"error": "..."}` values) read the same from bpfmap.
 */
import { constants } from 'node:os';
import { ENOTSUPP } from '../sys/constants.js';

const { errno } = constants;

const MESSAGES = new Map<number, string>([
  [errno.EPERM, 'Operation not permitted'],
  [errno.ENOENT, 'No such file or directory'],
  [errno.E2BIG, 'Argument list too long'],
  [errno.EBADF, 'Bad file descriptor'],
  [errno.EAGAIN, 'Resource temporarily unavailable'],
  [errno.ENOMEM, 'Cannot allocate memory'],
  [errno.EACCES, 'Permission denied'],
  [errno.EFAULT, 'Bad address'],
  [errno.EBUSY, 'Device or resource busy'],
  [errno.EEXIST, 'File exists'],
  [errno.EINVAL, 'Invalid argument'],
  [errno.ENOSPC, 'No space left on device'],
  [errno.EOPNOTSUPP, 'Operation not supported'],
]);

/** What glibc's `strerror(errno)` says (`Unknown error 524` for the kernel-internal ENOTSUPP). */
export function strerror(code: number): string {
  if (code === ENOTSUPP) return `Unknown error ${ENOTSUPP}`;
  return MESSAGES.get(code) ?? `Unknown error ${code}`;
}
