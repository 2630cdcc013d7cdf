/**
 * The errors records throw, each with a stable `code`: a bad template is a `TypeError`
 * (`ERR_BPFMAP_RECORD_FORMAT`); a value that does not fit is a `TypeError`
 * (`ERR_BPFMAP_RECORD_TYPE`) or `RangeError` (`ERR_BPFMAP_RECORD_RANGE`) whose message starts
 * with the field path (`value.data[3]`) and says what was expected and what was given; a buffer too
 * short for the record is a `RangeError` (`ERR_BPFMAP_RECORD_BUFFER`).
 */
import { argumentError } from '../../sys/errors.js';
import { describe } from '../codec.js';

/** A template or format string that cannot describe a layout. */
export function recordFormatError(message: string): TypeError {
  return argumentError(TypeError, 'ERR_BPFMAP_RECORD_FORMAT', message);
}

/** A field's value has the wrong type, or is missing (`undefined`). */
export function fieldTypeError(path: string, expected: string, actual: unknown): TypeError {
  const message = actual === undefined ? `${path}: missing, expected ${expected}` : `${path}: expected ${expected}, got ${describe(actual)}`;
  return argumentError(TypeError, 'ERR_BPFMAP_RECORD_TYPE', message);
}

/** A field's value has the right type but does not fit (out of range, too long, too short). */
export function fieldRangeError(path: string, expected: string, actual: string): RangeError {
  return argumentError(RangeError, 'ERR_BPFMAP_RECORD_RANGE', `${path}: expected ${expected}, got ${actual}`);
}

/** The buffer cannot hold a record at the given offset. */
export function bufferError(action: 'decode' | 'encode', size: number, length: unknown, offset: unknown): RangeError {
  return argumentError(
    RangeError,
    'ERR_BPFMAP_RECORD_BUFFER',
    `cannot ${action} a ${size}-byte record at offset ${String(offset)} of a buffer of ${String(length)} bytes`,
  );
}
