/** Update, lookup and open flags of map operations, checked before anything reaches the kernel. */
import { describe } from '../codec/codec.js';
import { argumentError } from '../sys/errors.js';
import { FileFlags, UpdateFlags, type UpdateFlag } from '../sys/constants.js';

/** A flag for `set`: bpftool's word or the raw number. */
export type SetFlags = UpdateFlag | number;

/** Lookup flags: `'lock'` (BPF_F_LOCK) reads the value under its bpf_spin_lock. */
export type GetFlags = 'lock';

/** Every bit an element update takes: BPF_NOEXIST | BPF_EXIST | BPF_F_LOCK. */
const UPDATE_FLAG_BITS = UpdateFlags.noexist | UpdateFlags.exist | UpdateFlags.lock;

/**
 * Checks update flags before anything reaches the kernel. The addon passes flags as 32 bits, so a
 * number at or above 2^32 would wrap to another flag (2^32 + 1 is noexist): only the bits the
 * kernel defines are taken, and noexist with exist together (which the kernel refuses) is
 * refused here.
 */
export function resolveSetFlags(flags: SetFlags | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~UPDATE_FLAG_BITS) !== 0 || flags > UPDATE_FLAG_BITS ||
        (flags & (UpdateFlags.noexist | UpdateFlags.exist)) === (UpdateFlags.noexist | UpdateFlags.exist)) {
      throw argumentError(RangeError, 'ERR_BPFMAP_FLAGS', `update flags must be 0 (any), 1 (noexist) or 2 (exist), optionally | 4 (lock), got ${flags}`);
    }
    return flags;
  }
  const value = typeof flags === 'string' && Object.hasOwn(UpdateFlags, flags) ? UpdateFlags[flags] : undefined;
  if (value === undefined) {
    throw argumentError(TypeError, 'ERR_BPFMAP_FLAGS', `unknown update flag ${typeof flags === 'string' ? `'${flags}'` : describe(flags)}: expected any, noexist, exist, lock or a number`);
  }
  return value;
}

/** The bits of a lookup flag. */
export function resolveGetFlags(flags: GetFlags): number {
  if (flags !== 'lock') throw argumentError(TypeError, 'ERR_BPFMAP_FLAGS', `unknown lookup flag ${typeof flags === 'string' ? `'${flags}'` : describe(flags)}: expected 'lock'`);
  return UpdateFlags.lock;
}

/** The open flags of `readOnly` / `writeOnly` (which exclude each other). */
export function openFlags(options: { readOnly?: boolean; writeOnly?: boolean } | undefined): number {
  if (options?.readOnly && options.writeOnly) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'readOnly and writeOnly exclude each other');
  }
  return options?.readOnly ? FileFlags.RDONLY : options?.writeOnly ? FileFlags.WRONLY : 0;
}
