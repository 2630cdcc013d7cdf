/**
 * Codecs from BTF types: decode a map's bytes into plain JavaScript values through the map's own
 * C types, and encode them back, byte for byte.
 *
 * Representation (the TypeScript generator in `typescript.ts` emits exactly these types):
 * - ints up to 32 bits → `number`; 64- and 128-bit ints and pointers → `bigint`; `_Bool` → `boolean`
 * - bitfields → `number` up to 32 bits, `bigint` above; signed ones are sign-extended
 * - enums → the enumerator's name, or the number (`bigint` for 8-byte enums) when none matches;
 *   encode takes a name or a number
 * - `char` arrays → `string` (latin1, trailing NULs dropped, so bytes after an inner NUL survive
 *   as `\u0000`s and the round trip stays exact); other arrays → JS arrays
 * - structs → objects with members at their BTF offsets (never recomputed); members of anonymous
 *   structs/unions are lifted into the enclosing object, as C lets you name them
 * - unions → every member decoded over the same bytes. Encode takes exactly one member (the
 *   generated type is a union of single-member objects); a value that was decoded may keep every
 *   member, and then the one member that was changed is written (read-modify-write), over the
 *   bytes that were read. Several members, or several changed ones that disagree, are an
 *   `ERR_BPFMAP_BTF_UNION` error naming them.
 * - a member the type does not have is an `ERR_BPFMAP_UNKNOWN_FIELD` error naming it
 * - float/double → `number`; `long double` → its raw bytes (`Uint8Array`)
 * - typedef/const/volatile/restrict/type_tag → transparent; a `var` → its type
 * - DATASEC (`.data`, `.bss`, `.rodata` maps) → `{ [section]: { [variable]: value } }`
 * Encoding zero-fills padding and writes nothing when the value does not fit (errors name the field).
 */
import { type Codec, describe } from '../codec.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { closestName } from '../field-names.js';
import type { BtfArray, BtfComposite, BtfDatasec, BtfEnum, BtfEnum64, BtfInt, BtfType } from './types.js';

/** Nesting bound for codec construction (a struct that contains itself by value is a cycle). */
const MAX_DEPTH = 64;

/** The value-level coder a BTF codec is built from: offsets are absolute within the buffer. */
interface Coder {
  readonly size: number;
  decode(view: DataView, offset: number): unknown;
  encode(value: unknown, view: DataView, offset: number): void;
}

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

function fail(kind: 'type' | 'range' | 'field' | 'union', message: string): never {
  const error = kind === 'range' ? new RangeError(message) : new TypeError(message);
  throw Object.assign(error, { code: VALUE_ERROR_CODES[kind] });
}

/** Codes of the value errors BTF codecs throw (malformed BTF itself is a `BtfError`). */
const VALUE_ERROR_CODES = {
  type: 'ERR_BPFMAP_BTF_TYPE',
  range: 'ERR_BPFMAP_BTF_RANGE',
  field: 'ERR_BPFMAP_UNKNOWN_FIELD',
  union: 'ERR_BPFMAP_BTF_UNION',
} as const;

/** Prefixes an encode error with the field it happened in (`.items[1].tag: ...`). */
function within(step: string, error: unknown): never {
  if (error instanceof Error && !(error instanceof BtfError)) {
    error.message = error.message.startsWith('.') || error.message.startsWith('[') ? `${step}${error.message}` : `${step}: ${error.message}`;
  }
  throw error;
}

/** Converts a number or bigint to a bigint in [min, max], or throws naming the range. */
function toBigInt(value: unknown, min: bigint, max: bigint, what: string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else return fail('type', `expected ${what} (a bigint or integer), got ${describe(value)}`);
  if (big < min || big > max) fail('range', `${big} does not fit ${what} [${min}, ${max}]`);
  return big;
}

function toInteger(value: unknown, min: number, max: number, what: string): number {
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) return fail('type', `expected ${what} (an integer), got ${describe(value)}`);
  if (number < min || number > max) fail('range', `${String(value)} does not fit ${what} [${min}, ${max}]`);
  return number;
}

/** Reads `count` bytes as an unsigned integer in the blob's byte order. */
function readUnsigned(view: DataView, offset: number, count: number, le: boolean): bigint {
  let value = 0n;
  for (let i = 0; i < count; i++) {
    const byte = BigInt(view.getUint8(offset + (le ? count - 1 - i : i)));
    value = (value << 8n) | byte;
  }
  return value;
}

function writeUnsigned(view: DataView, offset: number, count: number, le: boolean, value: bigint): void {
  for (let i = 0; i < count; i++) {
    view.setUint8(offset + (le ? i : count - 1 - i), Number(value & 0xffn));
    value >>= 8n;
  }
}

/** Numbers ↔ the raw unsigned bits of an integer field, for enums and bitfields. */
interface IntegerShape {
  readonly bits: number;
  readonly signed: boolean;
}

/** Decodes raw unsigned bits to number/bigint per the shape. */
function fromRaw(raw: bigint, shape: IntegerShape): number | bigint {
  const value = shape.signed ? BigInt.asIntN(shape.bits, raw) : raw;
  return bitsAreBig(shape.bits) ? value : Number(value);
}

/** Encodes a number/bigint to raw unsigned bits, range-checked for the shape. */
function toRaw(value: unknown, shape: IntegerShape, what: string): bigint {
  const bits = BigInt(shape.bits);
  const min = shape.signed ? -(1n << (bits - 1n)) : 0n;
  const max = shape.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return BigInt.asUintN(shape.bits, toBigInt(value, min, max, what));
}

/** Enumerator names by raw unsigned value, and back. */
interface EnumTable {
  readonly byRaw: Map<bigint, string>;
  readonly byName: Map<string, bigint>;
}

function enumTable(type: BtfEnum | BtfEnum64): EnumTable {
  const bits = type.size * 8;
  const byRaw = new Map<bigint, string>();
  const byName = new Map<string, bigint>();
  for (const { name, value } of type.values) {
    const raw = BigInt.asUintN(bits, BigInt(value));
    if (!byRaw.has(raw)) byRaw.set(raw, name);
    byName.set(name, raw);
  }
  return { byRaw, byName };
}

function enumDescription(type: BtfEnum | BtfEnum64): string {
  const names = type.values.map((v) => v.name);
  return `enum ${type.name || '(anonymous)'} (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`;
}

function decodeEnumRaw(raw: bigint, type: BtfEnum | BtfEnum64, table: EnumTable): string | number | bigint {
  return table.byRaw.get(raw) ?? fromRaw(raw, { bits: type.size * 8, signed: type.signed });
}

function encodeEnumRaw(value: unknown, type: BtfEnum | BtfEnum64, table: EnumTable, bits: number): bigint {
  if (typeof value === 'string') {
    const raw = table.byName.get(value);
    if (raw === undefined) fail('range', `'${value}' is not an enumerator of ${enumDescription(type)}`);
    return BigInt.asUintN(bits, raw);
  }
  const signed = type.signed || (typeof value === 'number' && value < 0) || (typeof value === 'bigint' && value < 0n);
  return toRaw(value, { bits, signed }, `${enumDescription(type)} as a ${bits}-bit number`);
}

/** Builds codecs for the types of one BTF blob; memoizes per type id. */
class CoderBuilder {
  private readonly built = new Map<number, Coder>();
  private readonly le: boolean;

  constructor(private readonly btf: Btf) {
    this.le = btf.header.littleEndian;
  }

  coder(id: number, depth: number): Coder {
    const cached = this.built.get(id);
    if (cached) return cached;
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', `types nest deeper than ${MAX_DEPTH} (a struct containing itself?)`, { typeId: id });
    const coder = this.make(this.btf.type(id), depth);
    this.built.set(id, coder);
    return coder;
  }

  private make(type: BtfType, depth: number): Coder {
    switch (type.kind) {
      case 'int': return this.int(type);
      case 'ptr': return this.int({ kind: 'int', id: type.id, name: 'pointer', size: 8, bits: 64, bitOffset: 0, signed: false, char: false, bool: false });
      case 'enum': case 'enum64': return this.enumeration(type);
      case 'float': return this.float(type.size);
      case 'array': return this.array(type, depth);
      case 'struct': case 'union': return this.composite(type, depth);
      case 'datasec': return this.datasec(type, depth);
      case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'var':
        return this.coder(type.type, depth + 1);
      default:
        throw new BtfError('ERR_BTF_UNSUPPORTED', `a ${type.kind} has no value to decode`, { typeId: type.id });
    }
  }

  private int(type: BtfInt): Coder {
    const le = this.le;
    const { size, signed } = type;
    if (type.bits !== size * 8 || type.bitOffset !== 0) {
      return this.bitfield({ bitShift: type.bitOffset, bits: type.bits }, size, { bits: type.bits, signed }, undefined);
    }
    const what = `${signed ? 'a signed' : 'an unsigned'} ${size * 8}-bit integer`;
    if (type.bool) {
      return {
        size,
        decode: (view, offset) => view.getUint8(offset) !== 0,
        encode: (value, view, offset) => {
          if (typeof value !== 'boolean') fail('type', `expected a boolean, got ${describe(value)}`);
          view.setUint8(offset, value ? 1 : 0);
        },
      };
    }
    switch (size) {
      case 1: case 2: case 4: {
        const min = signed ? -(2 ** (size * 8 - 1)) : 0;
        const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
        const read = size === 1 ? (signed ? (v: DataView, o: number) => v.getInt8(o) : (v: DataView, o: number) => v.getUint8(o))
          : size === 2 ? (signed ? (v: DataView, o: number) => v.getInt16(o, le) : (v: DataView, o: number) => v.getUint16(o, le))
          : signed ? (v: DataView, o: number) => v.getInt32(o, le) : (v: DataView, o: number) => v.getUint32(o, le);
        const write = size === 1 ? (v: DataView, o: number, x: number) => v.setUint8(o, x & 0xff)
          : size === 2 ? (v: DataView, o: number, x: number) => v.setUint16(o, x & 0xffff, le)
          : (v: DataView, o: number, x: number) => v.setUint32(o, x >>> 0, le);
        return { size, decode: read, encode: (value, view, offset) => write(view, offset, toInteger(value, min, max, what)) };
      }
      case 8: {
        const min = signed ? -(1n << 63n) : 0n;
        const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
        return {
          size,
          decode: signed ? (view, offset) => view.getBigInt64(offset, le) : (view, offset) => view.getBigUint64(offset, le),
          encode: (value, view, offset) => view.setBigUint64(offset, BigInt.asUintN(64, toBigInt(value, min, max, what)), le),
        };
      }
      default: {
        const shape = { bits: size * 8, signed };
        return {
          size,
          decode: (view, offset) => fromRaw(readUnsigned(view, offset, size, le), shape),
          encode: (value, view, offset) => writeUnsigned(view, offset, size, le, toRaw(value, shape, what)),
        };
      }
    }
  }

  /**
   * A bitfield of `bits` bits starting `bitShift` bits into the byte at the coder's offset. Bits
   * count from the least significant bit on little-endian targets, from the most significant on
   * big-endian ones. Encode merges into the neighbouring bits (the containing struct zeroed them).
   */
  private bitfield(place: { bitShift: number; bits: number }, storageSize: number, shape: IntegerShape, enumType: BtfEnum | BtfEnum64 | undefined): Coder {
    const le = this.le;
    const span = Math.ceil((place.bitShift + place.bits) / 8);
    const shift = BigInt(le ? place.bitShift : span * 8 - place.bitShift - place.bits);
    const mask = (1n << BigInt(place.bits)) - 1n;
    const table = enumType ? enumTable(enumType) : undefined;
    const what = `a ${shape.signed ? 'signed' : 'unsigned'} ${place.bits}-bit bitfield`;
    return {
      size: storageSize || span,
      decode: (view, offset) => {
        const raw = (readUnsigned(view, offset, span, le) >> shift) & mask;
        if (enumType && table) {
          const name = table.byRaw.get(BigInt.asUintN(enumType.size * 8, shape.signed ? BigInt.asIntN(place.bits, raw) : raw));
          if (name !== undefined) return name;
        }
        return fromRaw(raw, shape);
      },
      encode: (value, view, offset) => {
        const raw = enumType && table && typeof value === 'string'
          ? encodeEnumRaw(value, enumType, table, enumType.size * 8) & mask
          : toRaw(value, shape, what);
        if ((raw & ~mask) !== 0n) fail('range', `${String(value)} does not fit ${what}`);
        const old = readUnsigned(view, offset, span, le);
        writeUnsigned(view, offset, span, le, (old & ~(mask << shift)) | (raw << shift));
      },
    };
  }

  private enumeration(type: BtfEnum | BtfEnum64): Coder {
    const le = this.le;
    const table = enumTable(type);
    const bits = type.size * 8;
    return {
      size: type.size,
      decode: (view, offset) => decodeEnumRaw(readUnsigned(view, offset, type.size, le), type, table),
      encode: (value, view, offset) => writeUnsigned(view, offset, type.size, le, encodeEnumRaw(value, type, table, bits)),
    };
  }

  private float(size: number): Coder {
    const le = this.le;
    if (size === 4 || size === 8) {
      return {
        size,
        decode: size === 4 ? (view, offset) => view.getFloat32(offset, le) : (view, offset) => view.getFloat64(offset, le),
        encode: (value, view, offset) => {
          if (typeof value !== 'number') fail('type', `expected a number, got ${describe(value)}`);
          if (size === 4) view.setFloat32(offset, value, le);
          else view.setFloat64(offset, value, le);
        },
      };
    }
    if (size === 2) {
      return {
        size,
        decode: (view, offset) => halfToNumber(view.getUint16(offset, le)),
        encode: (value, view, offset) => {
          if (typeof value !== 'number') fail('type', `expected a number, got ${describe(value)}`);
          view.setUint16(offset, numberToHalf(value), le);
        },
      };
    }
    return rawBytes(size);
  }

  private array(type: BtfArray, depth: number): Coder {
    const length = type.length;
    if (isCharArray(this.btf, type)) {
      return {
        size: length,
        decode: (view, offset) => {
          let end = length;
          while (end > 0 && view.getUint8(offset + end - 1) === 0) end--;
          let text = '';
          for (let i = 0; i < end; i++) text += String.fromCharCode(view.getUint8(offset + i));
          return text;
        },
        encode: (value, view, offset) => {
          if (typeof value !== 'string') fail('type', `expected a string of up to ${length} latin1 characters, got ${describe(value)}`);
          if (value.length > length) fail('range', `string of ${value.length} characters does not fit char[${length}]`);
          for (let i = 0; i < length; i++) {
            const code = i < value.length ? value.charCodeAt(i) : 0;
            if (code > 0xff) fail('range', `character ${JSON.stringify(value[i])} at ${i} is not latin1`);
            view.setUint8(offset + i, code);
          }
        },
      };
    }
    const element = this.coder(type.type, depth + 1);
    const stride = this.btf.size(type.type);
    checkArrayLength(type);
    return {
      size: stride * length,
      decode: (view, offset) => {
        const values = new Array<unknown>(length);
        for (let i = 0; i < length; i++) values[i] = element.decode(view, offset + i * stride);
        return values;
      },
      encode: (value, view, offset) => {
        if (!Array.isArray(value)) fail('type', `expected an array of ${length}, got ${describe(value)}`);
        if (value.length !== length) fail('range', `expected an array of ${length}, got ${value.length}`);
        for (let i = 0; i < length; i++) {
          try {
            element.encode(value[i], view, offset + i * stride);
          } catch (error) {
            within(`[${i}]`, error);
          }
        }
      },
    };
  }

  /** Fields of a struct/union as placed coders; anonymous members expand to their own fields. */
  private fields(type: BtfComposite, depth: number): Field[] {
    const fields: Field[] = [];
    for (const member of type.members) {
      const placement = placeMember(this.btf, member);
      const target = this.btf.resolve(member.type);
      // C can name no other unnamed member (`int :3;` is padding): it holds no value, and encoding leaves it zero.
      if (member.name === '' && (placement.bitfield || (target.kind !== 'struct' && target.kind !== 'union'))) continue;
      fields.push(this.field(type, member, placement, target, depth));
    }
    return fields;
  }

  private field(type: BtfComposite, member: BtfComposite['members'][number], placement: MemberPlacement, target: BtfType, depth: number): Field {
    if (member.name === '' && !placement.bitfield && (target.kind === 'struct' || target.kind === 'union')) {
      if (placement.byteOffset + target.size > type.size) {
        throw new BtfError('ERR_BTF_BAD_TYPE', `anonymous member at byte ${placement.byteOffset} runs past the end of ${type.kind} ${type.name || '(anonymous)'}`, { typeId: type.id });
      }
      return { name: '', byteOffset: placement.byteOffset, size: target.size, lifted: this.compositeParts(target, depth + 1) };
    }
    let coder: Coder;
    if (placement.bitfield) {
      if (target.kind !== 'int' && target.kind !== 'enum' && target.kind !== 'enum64') {
        throw new BtfError('ERR_BTF_UNSUPPORTED', `bitfield '${member.name}' of a ${target.kind}`, { typeId: type.id });
      }
      const shape = { bits: placement.bitfield.bits, signed: target.signed };
      coder = this.bitfield(placement.bitfield, 0, shape, target.kind === 'int' ? undefined : target);
    } else {
      coder = this.coder(member.type, depth + 1);
    }
    if (placement.byteOffset + coder.size > type.size) {
      throw new BtfError('ERR_BTF_BAD_TYPE', `member '${member.name}' (${coder.size} bytes at byte ${placement.byteOffset}) runs past the end of ${type.kind} ${type.name || '(anonymous)'} (${type.size} bytes)`, { typeId: type.id });
    }
    const kernelOwned = target.kind === 'struct' && KERNEL_OWNED_STRUCTS.has(target.name);
    return { name: member.name, byteOffset: placement.byteOffset, size: coder.size, coder, ...(kernelOwned ? { kernelOwned } : {}) };
  }

  private compositeParts(type: BtfComposite, depth: number): CompositeParts {
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', `types nest deeper than ${MAX_DEPTH}`, { typeId: type.id });
    const fields = this.fields(type, depth);
    // Two members of one name (directly or through lifted anonymous members) would overwrite each
    // other in the decoded object; C forbids it, so such BTF is malformed.
    const seen = new Set<string>();
    const claim = (parts: readonly Field[]): void => {
      for (const field of parts) {
        if (field.lifted) claim(field.lifted.fields);
        else if (seen.has(field.name)) throw new BtfError('ERR_BTF_BAD_TYPE', `member '${field.name}' appears twice in ${type.kind} ${type.name || '(anonymous)'}`, { typeId: type.id });
        else seen.add(field.name);
      }
    };
    claim(fields);
    const names = memberNames(fields);
    return { union: type.kind === 'union', size: type.size, fields, names, unionKey: [...names].join(',') };
  }

  private composite(type: BtfComposite, depth: number): Coder {
    const parts = this.compositeParts(type, depth);
    const size = type.size;
    return {
      size,
      decode: (view, offset) => {
        const out: Record<string, unknown> = {};
        decodeParts(parts, view, offset, out);
        return out;
      },
      encode: (value, view, offset) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          fail('type', `expected an object for ${type.kind} ${type.name || '(anonymous)'}, got ${describe(value)}`);
        }
        for (let i = 0; i < size; i++) view.setUint8(offset + i, 0);
        checkNames(parts, value as Record<string, unknown>, type);
        encodeParts(parts, value as Record<string, unknown>, view, offset, type);
      },
    };
  }

  private datasec(type: BtfDatasec, depth: number): Coder {
    const vars = type.vars.map((info) => {
      const variable = this.btf.typeOfKind(info.type, 'var');
      const coder = this.coder(variable.type, depth + 1);
      if (info.offset + coder.size > type.size) {
        throw new BtfError('ERR_BTF_BAD_TYPE', `variable '${variable.name}' runs past the end of section ${type.name}`, { typeId: type.id });
      }
      return { name: variable.name, offset: info.offset, coder };
    });
    const section = type.name;
    return {
      size: type.size,
      decode: (view, offset) => {
        const values: Record<string, unknown> = {};
        for (const v of vars) values[v.name] = v.coder.decode(view, offset + v.offset);
        return { [section]: values };
      },
      encode: (value, view, offset) => {
        const values = (value as Record<string, unknown> | null)?.[section];
        if (typeof values !== 'object' || values === null) fail('type', `expected { '${section}': { variable: value } }, got ${describe(value)}`);
        for (let i = 0; i < type.size; i++) view.setUint8(offset + i, 0);
        for (const v of vars) {
          const field = (values as Record<string, unknown>)[v.name];
          if (field === undefined) fail('type', `.${section}.${v.name}: missing`);
          try {
            v.coder.encode(field, view, offset + v.offset);
          } catch (error) {
            within(`.${section}.${v.name}`, error);
          }
        }
      },
    };
  }
}

/**
 * Structs whose bytes in a map value belong to the kernel: it never copies them from user space
 * (a bpf_spin_lock in an update is skipped; timers and the like are initialised by the kernel).
 * A value written without such a member is complete: the member is left zero.
 */
const KERNEL_OWNED_STRUCTS: ReadonlySet<string> = new Set([
  'bpf_spin_lock', 'bpf_res_spin_lock', 'bpf_timer', 'bpf_wq', 'bpf_task_work', 'bpf_list_head', 'bpf_list_node',
  'bpf_rb_root', 'bpf_rb_node', 'bpf_refcount',
]);

/** A placed field of a struct/union: a coder, or the lifted parts of an anonymous member. */
interface Field {
  readonly name: string;
  readonly byteOffset: number;
  readonly size: number;
  readonly coder?: Coder;
  readonly lifted?: CompositeParts;
  /** A kernel-owned struct (bpf_spin_lock, ...): optional when encoding, zero when left out. */
  readonly kernelOwned?: boolean;
}

interface CompositeParts {
  readonly union: boolean;
  readonly size: number;
  readonly fields: readonly Field[];
  /** Every name a value of this type may hold, lifted members included. */
  readonly names: ReadonlySet<string>;
  /** For unions: `unionKey` of these parts. */
  readonly unionKey: string;
}

function memberNames(fields: readonly Field[], into = new Set<string>()): Set<string> {
  for (const field of fields) {
    if (field.lifted) memberNames(field.lifted.fields, into);
    else into.add(field.name);
  }
  return into;
}

/**
 * The bytes each decoded union was read from, by the object holding its members (the union's own
 * object, or the enclosing one for an anonymous union) and the union: encode compares the members
 * against them to find the one a read-modify-write changed.
 */
const unionSnapshots = new WeakMap<object, Map<string, Uint8Array>>();

// A union is named within the object holding its members by its member names (`unionKey`),
// which no other union of that object can share (a name appears once per object), so that a
// value decoded by one codec can be written by another made from another copy of the same BTF.


function decodeParts(parts: CompositeParts, view: DataView, offset: number, out: Record<string, unknown>): void {
  if (parts.union) {
    let byUnion = unionSnapshots.get(out);
    if (!byUnion) unionSnapshots.set(out, (byUnion = new Map()));
    byUnion.set(parts.unionKey, new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + parts.size)));
  }
  for (const field of parts.fields) {
    if (field.lifted) decodeParts(field.lifted, view, offset + field.byteOffset, out);
    else out[field.name] = (field.coder as Coder).decode(view, offset + field.byteOffset);
  }
}

/** True when the value holds any field of these parts (for union members). */
function presentIn(parts: CompositeParts, value: Record<string, unknown>): boolean {
  return parts.fields.some((f) => (f.lifted ? presentIn(f.lifted, value) : value[f.name] !== undefined));
}

/** Refuses members the type does not have (a misspelled field would otherwise be dropped silently). */
function checkNames(parts: CompositeParts, value: Record<string, unknown>, type: BtfComposite): void {
  for (const key in value) {
    if (!parts.names.has(key) && Object.hasOwn(value, key) && value[key] !== undefined) {
      const guess = closestName(key, parts.names);
      fail('field', `.${key}: ${type.kind} ${type.name || '(anonymous)'} has no member '${key}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`} (members: ${[...parts.names].join(', ')})`);
    }
  }
}

/** Writes one union member (a field, or a lifted anonymous member's fields). */
function encodeMember(field: Field, value: Record<string, unknown>, view: DataView, offset: number, type: BtfComposite): void {
  if (field.lifted) {
    encodeParts(field.lifted, value, view, offset + field.byteOffset, type);
    return;
  }
  try {
    (field.coder as Coder).encode(value[field.name], view, offset + field.byteOffset);
  } catch (error) {
    within(`.${field.name}`, error);
  }
}

function encodeUnion(parts: CompositeParts, value: Record<string, unknown>, view: DataView, offset: number, type: BtfComposite): void {
  const label = `union ${type.name || '(anonymous)'}`;
  const memberName = (field: Field): string => field.name || `(anonymous: ${[...memberNames(field.lifted?.fields ?? [])].join(', ')})`;
  const given = parts.fields.filter((field) => (field.lifted ? presentIn(field.lifted, value) : value[field.name] !== undefined));
  if (given.length === 0) {
    // A decoded union whose members hold no values (anonymous empty structs): write what was read.
    const decoded = unionSnapshots.get(value)?.get(parts.unionKey);
    if (parts.fields.length === 0 || decoded?.length === parts.size) {
      if (decoded?.length === parts.size) for (let i = 0; i < decoded.length; i++) view.setUint8(offset + i, decoded[i]!);
      return;
    }
    fail('union', `${label} needs one of its members (${parts.fields.map(memberName).join(', ')})`);
  }
  const snapshot = unionSnapshots.get(value)?.get(parts.unionKey);
  const read = snapshot?.length === parts.size ? snapshot : undefined;
  if (read === undefined) {
    if (given.length > 1) {
      fail('union', `${label} takes exactly one member, got ${given.map(memberName).join(', ')}: they share the same bytes`);
    }
    encodeMember(given[0]!, value, view, offset, type);
    return;
  }
  // A decoded value: every member is there. Encode each over the bytes that were read and keep
  // the ones that change them; unchanged members say nothing.
  const changed: Array<{ field: Field; bytes: Uint8Array }> = [];
  for (const field of given) {
    const bytes = read.slice();
    encodeMember(field, value, new DataView(bytes.buffer), 0, type);
    if (!bytes.every((byte, i) => byte === read[i])) changed.push({ field, bytes });
  }
  const first = changed[0];
  const result = first === undefined ? read : first.bytes;
  const conflicting = changed.filter(({ bytes }) => !bytes.every((byte, i) => byte === result[i]));
  if (conflicting.length > 0) {
    fail('union', `${label}: members ${changed.map(({ field }) => memberName(field)).join(', ')} were all changed and disagree; set one of them (delete the others from the object)`);
  }
  for (let i = 0; i < result.length; i++) view.setUint8(offset + i, result[i]!);
}

function encodeParts(parts: CompositeParts, value: Record<string, unknown>, view: DataView, offset: number, type: BtfComposite): void {
  if (parts.union) {
    encodeUnion(parts, value, view, offset, type);
    return;
  }
  for (const field of parts.fields) {
    if (field.lifted) {
      encodeParts(field.lifted, value, view, offset + field.byteOffset, type);
      continue;
    }
    const member = value[field.name];
    if (member === undefined) {
      if (field.kernelOwned) {
        for (let i = 0; i < field.size; i++) view.setUint8(offset + field.byteOffset + i, 0);
        continue;
      }
      fail('type', `.${field.name}: missing (${type.kind} ${type.name || '(anonymous)'} needs every member)`);
    }
    try {
      (field.coder as Coder).encode(member, view, offset + field.byteOffset);
    } catch (error) {
      within(`.${field.name}`, error);
    }
  }
}

function rawBytes(size: number): Coder {
  return {
    size,
    decode: (view, offset) => new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + size)),
    encode: (value, view, offset) => {
      if (!(value instanceof Uint8Array) || value.length !== size) fail('type', `expected a Uint8Array of ${size} bytes, got ${describe(value)}`);
      for (let i = 0; i < size; i++) view.setUint8(offset + i, value[i] as number);
    },
  };
}

/** IEEE 754 binary16 → number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** number → IEEE 754 binary16 (round to nearest even through float32). */
function numberToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (((bits >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const m = (mantissa | 0x800000) >>> (1 - exponent);
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  const rounded = (exponent << 10) + ((mantissa + 0xfff + ((mantissa >>> 13) & 1)) >>> 13);
  return sign | rounded;
}

const builders = new WeakMap<Btf, CoderBuilder>();

/**
 * A codec for a BTF type, decoding to plain JavaScript values (see the module comment for the
 * mapping). `T` is what the caller asserts the values look like; `generateTypeScript` emits
 * matching declarations.
 *
 * @example
 * const btf = btfFromFile('prog.bpf.o');
 * const codec = btfCodec<Value>(btf, btf.typeByName('value', 'struct').id);
 * const value = codec.decode(bytes, 0);
 * @throws BtfError when the type has no size (void, function, forward declaration) or is cyclic.
 */
export function btfCodec<T = unknown>(btf: Btf, typeId: number): Codec<T> {
  let builder = builders.get(btf);
  if (!builder) {
    builder = new CoderBuilder(btf);
    builders.set(btf, builder);
  }
  const coder = builder.coder(typeId, 0);
  const size = btf.size(typeId);
  // Allocated on first encode: decode-only users (dumps) never pay for it.
  let scratch: Uint8Array | undefined;
  let scratchView: DataView | undefined;
  return {
    size,
    decode(source: Uint8Array, offset: number): T {
      if (offset < 0 || offset + size > source.length) fail('range', `need ${size} bytes at offset ${offset}, have ${source.length}`);
      return coder.decode(new DataView(source.buffer, source.byteOffset, source.byteLength), offset) as T;
    },
    encode(value: T, target: Uint8Array, offset: number): void {
      if (offset < 0 || offset + size > target.length) fail('range', `need ${size} bytes at offset ${offset}, have ${target.length}`);
      if (!scratch || !scratchView) {
        scratch = new Uint8Array(size);
        scratchView = new DataView(scratch.buffer);
      } else scratch.fill(0);
      coder.encode(value, scratchView, 0);
      target.set(scratch, offset);
    },
  };
}
