/** Facts of BTF types' layout that the codecs, the formatter and the TypeScript printer share. */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfArray } from './types.js';

/** Nesting bound for codec construction (a struct that contains itself by value is a cycle). */
export const MAX_DEPTH = 64;

/** True when a bit width decodes to `bigint` rather than `number`. */
export function bitsAreBig(bits: number): boolean {
  return bits > 32;
}

/**
 * True when an array's elements are C `char` (bpftool's rule: an 8-bit int named `char` or with the
 * CHAR encoding, seen through const/volatile/restrict/type_tag but not typedefs), so that the
 * array is a string.
 */
export function isCharArray(btf: Btf, array: BtfArray): boolean {
  if (array.length === 0) return false;
  let element = btf.type(array.type);
  for (let hops = 0; hops < MAX_DEPTH; hops++) {
    if (element.kind === 'const' || element.kind === 'volatile' || element.kind === 'restrict' || element.kind === 'type_tag') {
      element = btf.type(element.type);
    } else break;
  }
  return element.kind === 'int' && element.size === 1 && !element.bool && (element.char || element.name === 'char');
}

/** Where a struct/union member's value sits, with bitfields resolved from either BTF encoding. */
export interface MemberPlacement {
  /** Byte offset of the member's storage (for bitfields: of the byte holding the first bit). */
  readonly byteOffset: number;
  /** For bitfields: bit offset within the byte at `byteOffset`, and the width. */
  readonly bitfield: { readonly bitShift: number; readonly bits: number } | undefined;
}

/**
 * Places a member: a bitfield when the struct's kind_flag gives a width, or (old encoding) when
 * the member's int type has fewer bits than its storage, a bit offset, or the member is not
 * byte-aligned.
 */
export function placeMember(btf: Btf, member: { readonly type: number; readonly bitOffset: number; readonly bitfieldSize: number }): MemberPlacement {
  if (member.bitfieldSize > 0) {
    return { byteOffset: member.bitOffset >>> 3, bitfield: { bitShift: member.bitOffset & 7, bits: member.bitfieldSize } };
  }
  const target = btf.resolve(member.type);
  if (target.kind === 'int' && (target.bits !== target.size * 8 || target.bitOffset !== 0 || member.bitOffset % 8 !== 0)) {
    const start = member.bitOffset + target.bitOffset;
    return { byteOffset: start >>> 3, bitfield: { bitShift: start & 7, bits: target.bits } };
  }
  if (member.bitOffset % 8 !== 0) {
    throw new BtfError('ERR_BTF_UNSUPPORTED', `member at bit ${member.bitOffset} is not byte-aligned and not a bitfield`, { typeId: member.type });
  }
  return { byteOffset: member.bitOffset >>> 3, bitfield: undefined };
}

/** Arrays longer than this are refused: decoding one would build a JS array too big to be useful. */
export const MAX_ARRAY_ELEMENTS = 1 << 24;

/** @throws BtfError for arrays too long to decode element by element. */
export function checkArrayLength(type: BtfArray): void {
  if (type.length > MAX_ARRAY_ELEMENTS) {
    throw new BtfError('ERR_BTF_UNSUPPORTED', `array of ${type.length} elements is too long to decode (limit ${MAX_ARRAY_ELEMENTS})`, { typeId: type.id });
  }
}
