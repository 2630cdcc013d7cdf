/**
 * Loading BTF into the kernel (BTF_LOAD), with the verifier's log in the error when it refuses.
 */
import { native } from '../../sys/native.js';
import { errnoName } from '../../sys/errors.js';
import { BtfError } from './errors.js';

/** Size of the log buffer asked for when a load fails. */
const LOG_SIZE = 1 << 16;

/**
 * Loads a BTF blob into the kernel and returns the new BTF object's fd (the caller closes it).
 * @throws BtfError (`ERR_BTF_LOAD`) with the kernel's verifier log when the kernel rejects the blob.
 */
export function loadBtfIntoKernel(blob: Uint8Array): number {
  const fd = native.btfLoad(blob, null, 0);
  if (fd >= 0) return fd;
  // Retry with a log to say why: the first attempt stays log-free, which is the fast common path.
  const log = new Uint8Array(LOG_SIZE);
  const retry = native.btfLoad(blob, log, 1);
  if (retry >= 0) return retry;
  const end = log.indexOf(0);
  const text = Buffer.from(log.subarray(0, end < 0 ? log.length : end)).toString('utf8').trim();
  throw new BtfError('ERR_BTF_LOAD', `BTF_LOAD failed with ${errnoName(-fd)}${text ? `:\n${text}` : ''}`);
}
