/**
 * `BtfBuilder`: writes BTF blobs, from type-model objects or by copying types (with everything
 * they refer to) out of another `Btf`. Used to create maps with BTF, and by the tests to make
 * blobs in either byte order and with longer headers.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_KIND_NUMBERS, type BtfType } from './types.js';

/** A type to add: any model type without its id (ids are assigned by the builder). */
export type BtfTypeInput = BtfType extends infer T ? (T extends BtfType ? Omit<T, 'id'> : never) : never;

/** Options for `BtfBuilder.build`. */
export interface BtfBuildOptions {
  /** Byte order of the blob; default the host's (little-endian on x86 and arm64). */
  readonly littleEndian?: boolean;
  /** Header length (24 or more, a multiple of 4); extra header bytes are zero. */
  readonly headerLength?: number;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Builds a BTF blob.
 *
 * @example
 * const b = new BtfBuilder();
 * const u32 = b.add({ kind: 'int', name: 'unsigned int', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false });
 * const value = b.import(programBtf, programBtf.typeByName('value', 'struct').id);
 * const blob = b.build();
 */
export class BtfBuilder {
  private readonly types: BtfTypeInput[] = [];
  private readonly strings = new Map<string, number>([['', 0]]);
  private stringLength = 1;
  private readonly imported = new WeakMap<Btf, Map<number, number>>();

  /** Adds a type; returns its id (ids start at 1). References must name ids of this builder. */
  add(type: BtfTypeInput): number {
    this.types.push(type);
    return this.types.length;
  }

  /** The id the next `add` returns: lets a type refer to itself through a pointer. */
  get nextId(): number {
    return this.types.length + 1;
  }

  /**
   * Copies a type and every type it refers to from another BTF; returns its id here. Copies each
   * source type once per builder, so importing several types shares their dependencies.
   */
  import(source: Btf, id: number): number {
    if (id === 0) return 0;
    let map = this.imported.get(source);
    if (!map) {
      map = new Map();
      this.imported.set(source, map);
    }
    const known = map.get(id);
    if (known !== undefined) return known;
    const type = source.type(id);
    // Reserve the id first so that cycles through pointers resolve to it.
    const newId = this.add({ kind: 'fwd', name: type.name, union: false });
    map.set(id, newId);
    const ref = (other: number): number => this.import(source, other);
    let copy: BtfTypeInput;
    switch (type.kind) {
      case 'void': throw new BtfError('ERR_BTF_UNSUPPORTED', 'void is id 0 and cannot be copied');
      case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        copy = { ...type, type: ref(type.type) };
        break;
      case 'func': case 'var': case 'decl_tag':
        copy = { ...type, type: ref(type.type) };
        break;
      case 'array':
        copy = { ...type, type: ref(type.type), indexType: ref(type.indexType) };
        break;
      case 'struct': case 'union':
        copy = { ...type, members: type.members.map((m) => ({ ...m, type: ref(m.type) })) };
        break;
      case 'func_proto':
        copy = { ...type, returnType: ref(type.returnType), params: type.params.map((p) => ({ ...p, type: ref(p.type) })) };
        break;
      case 'datasec':
        copy = { ...type, vars: type.vars.map((v) => ({ ...v, type: ref(v.type) })) };
        break;
      default:
        copy = { ...type };
    }
    delete (copy as { id?: number }).id;
    this.types[newId - 1] = copy;
    return newId;
  }

  private string(value: string): number {
    let offset = this.strings.get(value);
    if (offset === undefined) {
      offset = this.stringLength;
      this.strings.set(value, offset);
      this.stringLength += Buffer.byteLength(value, 'latin1') + 1;
    }
    return offset;
  }

  /** Writes the blob. */
  build(options: BtfBuildOptions = {}): Uint8Array {
    const le = options.littleEndian ?? HOST_LITTLE_ENDIAN;
    const headerLength = options.headerLength ?? 24;
    if (headerLength < 24 || headerLength % 4 !== 0) throw new RangeError(`headerLength must be a multiple of 4 and at least 24, got ${headerLength}`);
    const words: number[] = [];
    for (const type of this.types) this.encode(type, words);
    const typeLength = words.length * 4;
    const stringBytes = Buffer.alloc(this.stringLength);
    for (const [value, offset] of this.strings) stringBytes.write(value, offset, 'latin1');
    const blob = new Uint8Array(headerLength + typeLength + this.stringLength);
    const view = new DataView(blob.buffer);
    view.setUint16(0, 0xeb9f, le);
    blob[2] = 1;
    view.setUint32(4, headerLength, le);
    view.setUint32(8, 0, le);
    view.setUint32(12, typeLength, le);
    view.setUint32(16, typeLength, le);
    view.setUint32(20, this.stringLength, le);
    words.forEach((word, i) => view.setUint32(headerLength + i * 4, word >>> 0, le));
    blob.set(stringBytes, headerLength + typeLength);
    return blob;
  }

  private encode(type: BtfTypeInput, out: number[]): void {
    const kind = BTF_KIND_NUMBERS[type.kind as keyof typeof BTF_KIND_NUMBERS];
    if (kind === undefined) throw new BtfError('ERR_BTF_UNSUPPORTED', `cannot write a ${type.kind}`);
    const info = (vlen: number, kindFlag = false): number => ((kindFlag ? 1 : 0) << 31) | (kind << 24) | (vlen & 0xffff);
    const name = this.string(type.name);
    switch (type.kind) {
      case 'int':
        out.push(name, info(0), type.size, ((type.signed ? 1 : 0) | (type.char ? 2 : 0) | (type.bool ? 4 : 0)) << 24 | (type.bitOffset << 16) | type.bits);
        return;
      case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        out.push(name, info(0), type.type);
        return;
      case 'fwd':
        out.push(name, info(0, type.union), 0);
        return;
      case 'array':
        out.push(name, info(0), 0, type.type, type.indexType, type.length);
        return;
      case 'struct': case 'union': {
        const kindFlag = type.members.some((m) => m.bitfieldSize > 0);
        out.push(name, info(type.members.length, kindFlag), type.size);
        for (const m of type.members) out.push(this.string(m.name), m.type, kindFlag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
        return;
      }
      case 'enum':
        out.push(name, info(type.values.length, type.signed), type.size);
        for (const v of type.values) out.push(this.string(v.name), v.value | 0);
        return;
      case 'enum64':
        out.push(name, info(type.values.length, type.signed), type.size);
        for (const v of type.values) {
          const raw = BigInt.asUintN(64, v.value);
          out.push(this.string(v.name), Number(raw & 0xffffffffn), Number(raw >> 32n));
        }
        return;
      case 'func':
        out.push(name, info(type.linkage), type.type);
        return;
      case 'func_proto':
        out.push(name, info(type.params.length), type.returnType);
        for (const p of type.params) out.push(this.string(p.name), p.type);
        return;
      case 'var':
        out.push(name, info(0), type.type, type.linkage);
        return;
      case 'datasec':
        out.push(name, info(type.vars.length), type.size);
        for (const v of type.vars) out.push(v.type, v.offset, v.size);
        return;
      case 'float':
        out.push(name, info(0), type.size);
        return;
      case 'decl_tag':
        out.push(name, info(0), type.type, type.componentIndex);
        return;
      case 'void':
        throw new BtfError('ERR_BTF_UNSUPPORTED', 'void is id 0 and cannot be written');
    }
  }
}
