/**
 * Loading BTF into the kernel (BTF_LOAD), with the verifier's log in the error when it refuses.
 */
import { native, type NativeObject } from '../../sys/native.js';
import { errnoName } from '../../sys/errors.js';
import { BtfError } from './errors.js';

/** Size of the log buffer asked for when a load fails. */
const LOG_SIZE = 1 << 16;

/**
 * Loads a BTF blob into the kernel and returns the new BTF object's fd (the caller owns and
 * closes it).
 * @throws BtfError (`ERR_BTF_LOAD`) with the kernel's verifier log when the kernel rejects the blob.
 */
export function loadBtfIntoKernel(blob: Uint8Array): number {
  const handle = loadBtfHandle(blob);
  try {
    const fd = native.objExportFd(handle);
    if (fd < 0) throw new BtfError('ERR_BTF_LOAD', `cannot duplicate the BTF object's fd: ${errnoName(-fd)}`);
    return fd;
  } finally {
    native.objClose(handle);
  }
}

/** @internal Loads a BTF blob into the kernel: a handle the caller closes (`native.objClose`). */
export function loadBtfHandle(blob: Uint8Array): NativeObject<'btf'> {
  if (!(blob instanceof Uint8Array)) throw new BtfError('ERR_BTF_LOAD', 'the BTF blob must be a Uint8Array');
  const fd = native.btfLoad(blob, null, 0);
  if (typeof fd !== 'number') return fd;
  // Retry with a log to say why: the first attempt stays log-free, which is the fast common path.
  const log = new Uint8Array(LOG_SIZE);
  const retry = native.btfLoad(blob, log, 1);
  if (typeof retry !== 'number') return retry;
  const end = log.indexOf(0);
  const text = Buffer.from(log.subarray(0, end < 0 ? log.length : end)).toString('utf8').trim();
  throw new BtfError('ERR_BTF_LOAD', `BTF_LOAD failed with ${errnoName(-fd)}${text ? `:\n${text}` : ''}`);
}
