/** `CoderBuilder`: the coder of every BTF type of one blob, built once per type id. */
import { describe } from '../codec.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfArray, BtfComposite, BtfDatasec, BtfEnum, BtfEnum64, BtfInt, BtfType } from './types.js';
import { type CompositeParts, type Field, KERNEL_OWNED_STRUCTS, checkNames, decodeParts, encodeParts, memberNames } from './composite-coders.js';
import { MAX_DEPTH, type MemberPlacement, checkArrayLength, isCharArray, placeMember } from './type-layout.js';
import { type Coder, type IntegerShape, decodeEnumRaw, encodeEnumRaw, enumTable, fail, fromRaw, halfToNumber, numberToHalf, rawBytes, readUnsigned, toBigInt, toInteger, toRaw, within, writeUnsigned } from './value-coders.js';

/** Builds codecs for the types of one BTF blob; memoizes per type id. */
export class CoderBuilder {
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

