/**
 * `BtfError`: malformed or unusable BTF. Says where (type id, byte offset) so that a broken blob
 * can be found with a hex dump; `code` is stable for branching.
 */

/** Stable codes of `BtfError`. */
export type BtfErrorCode =
  | 'ERR_BTF_HEADER'
  | 'ERR_BTF_TRUNCATED'
  | 'ERR_BTF_BAD_TYPE'
  | 'ERR_BTF_BAD_STRING'
  | 'ERR_BTF_BAD_REFERENCE'
  | 'ERR_BTF_CYCLE'
  | 'ERR_BTF_NOT_FOUND'
  | 'ERR_BTF_UNSUPPORTED'
  | 'ERR_BTF_ELF'
  | 'ERR_BTF_LOAD'
  | 'ERR_BTF_SIZE_MISMATCH'
  /** `.BTF.ext`: bad magic, version, flags or header length. */
  | 'ERR_BTF_EXT_HEADER'
  /** `.BTF.ext`: a part, section or record runs past its bounds. */
  | 'ERR_BTF_EXT_TRUNCATED'
  /** `.BTF.ext`: a record that cannot be right (record size, instruction offset, kind, string). */
  | 'ERR_BTF_EXT_BAD_RECORD';

/**
 * BTF that cannot be parsed, resolved or used for the requested purpose.
 *
 * @example
 * try { Btf.parse(bytes); } catch (e) { if (e instanceof BtfError) console.error(e.code, e.typeId, e.byteOffset); }
 */
export class BtfError extends Error {
  /** Always `'BtfError'`. */
  override readonly name = 'BtfError';
  /** What kind of problem, e.g. `'ERR_BTF_TRUNCATED'`. */
  readonly code: BtfErrorCode;
  /** The type the problem was found in, when there is one. */
  readonly typeId: number | undefined;
  /** Byte offset into the blob where the problem was found, when known. */
  readonly byteOffset: number | undefined;

  constructor(code: BtfErrorCode, message: string, where: { typeId?: number; byteOffset?: number; cause?: unknown } = {}) {
    const place = [
      where.typeId !== undefined ? `type ${where.typeId}` : '',
      where.byteOffset !== undefined ? `byte 0x${where.byteOffset.toString(16)}` : '',
    ].filter(Boolean).join(' at ');
    super(place ? `BTF ${place}: ${message}` : `BTF: ${message}`, where.cause === undefined ? undefined : { cause: where.cause });
    this.code = code;
    this.typeId = where.typeId;
    this.byteOffset = where.byteOffset;
  }
}
