/**
 * BTF from a `BpfRecord`: the C types a record's layout describes, so that a map created from
 * records carries key and value types (bpftool then prints `formatted` values, and the map opens
 * typed through its own BTF like a map loaded from an object file).
 *
 * The record's layout is the only source of offsets: members sit at the byte offsets the layout
 * computed, pad bytes (`x`, and the alignment padding of `@`) stay holes between members, and a
 * struct's size is the one C would give it (`@`) or its exact extent (other byte orders).
 *
 * How each format character is described:
 * | record | BTF |
 * | --- | --- |
 * | `b h i l q n` / `B H I L Q N P` | INT of the item's size, signed / unsigned |
 * | `?` | INT `_Bool` (BOOL encoding) |
 * | `c` | INT `char` (8 bits, CHAR encoding, as pahole writes it) |
 * | `e` `f` `d` | FLOAT `_Float16` / `float` / `double` |
 * | `Ns` | ARRAY of `char`, length N |
 * | `Np` | STRUCT `pascalN { unsigned char len; char data[N-1]; }` |
 * | struct template | STRUCT, named after its path (`value_inner`) |
 * | array with one element shape at a constant stride | ARRAY |
 * | any other array (a tuple such as `'BH'`) | STRUCT with members `_0`, `_1`, ... |
 * | a scalar in the other byte order (`>` on x86) | TYPEDEF `__be16`/`__be32`/`__be64` over an unsigned INT |
 *
 * BTF has no byte order: like the kernel's own `__be16` fields, values stored in the other order
 * show byte-swapped in bpftool and in BTF codecs.
 */
import type { BpfRecord } from '../record/record.js';
import { firstOffset, type ScalarLayout, type ValueLayout } from '../record/layout.js';
import { nativeLittleEndian } from '../record/format.js';

/** What BTF needs of a record: its layout (any `BpfRecord<T>` fits, whatever its `T`). */
export type RecordShape = Pick<BpfRecord<never>, 'layout' | 'size' | 'byteOrder'>;
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BtfBuilder } from './writer.js';

/** A C identifier: the kernel refuses any other struct or member name (`Invalid name`). */
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** C names of the integer types, by size: [signed, unsigned]. */
const INT_NAMES: Readonly<Record<number, readonly [string, string]>> = {
  1: ['signed char', 'unsigned char'],
  2: ['short', 'unsigned short'],
  4: ['int', 'unsigned int'],
  8: ['long long', 'unsigned long long'],
};

/** C names of the float types, by size. */
const FLOAT_NAMES: Readonly<Record<number, string>> = { 2: '_Float16', 4: 'float', 8: 'double' };

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** One past the last byte a value's scalars occupy, or undefined when it holds none. */
function endOf(value: ValueLayout): number | undefined {
  if (value.kind === 'scalar') return value.offset + value.size;
  const children = value.kind === 'struct' ? value.fields.map((field) => field.value) : value.elements;
  let end: number | undefined;
  for (const child of children) {
    const childEnd = endOf(child);
    if (childEnd !== undefined && (end === undefined || childEnd > end)) end = childEnd;
  }
  return end;
}

/** C's alignment of a value laid out with `@`: strings are byte arrays, other scalars align to their size. */
function alignmentOf(value: ValueLayout): number {
  if (value.kind === 'scalar') return value.format.kind === 'bytes' || value.format.kind === 'pascal' ? 1 : value.size;
  const children = value.kind === 'struct' ? value.fields.map((field) => field.value) : value.elements;
  return children.reduce((widest, child) => Math.max(widest, alignmentOf(child)), 1);
}

/**
 * Adds the types of records to one builder, sharing the base types (`unsigned int`, `char`, ...)
 * between them.
 *
 * @example
 * const builder = new BtfBuilder();
 * const writer = new RecordBtfWriter(builder);
 * const keyId = writer.add(keyRecord, 'key');
 * const valueId = writer.add(valueRecord, 'value');
 * const blob = builder.build();
 */
export class RecordBtfWriter {
  private readonly shared = new Map<string, number>();
  /** True while adding a record laid out with `@` (C's alignment and trailing padding). */
  private native = false;

  constructor(readonly builder: BtfBuilder) {}

  /**
   * Adds the type of a whole record (its size is the record's `size`) and returns its id.
   * @param name the C name of the record's struct (nested structs are named after their path).
   * @throws BtfError (`ERR_BTF_UNSUPPORTED`) when a field name is not a C identifier.
   */
  add(record: RecordShape, name: string): number {
    checkIdentifier(name, 'struct name');
    const root = record.layout.root;
    if (root === undefined) throw new BtfError('ERR_BTF_UNSUPPORTED', `record '${name}' holds no value`);
    this.native = record.byteOrder === '@';
    return this.value(root, name, 0, record.size, true).id;
  }

  /** A shared base type, added once per builder. */
  private base(key: string, make: () => Parameters<BtfBuilder['add']>[0]): number {
    let id = this.shared.get(key);
    if (id === undefined) {
      id = this.builder.add(make());
      this.shared.set(key, id);
    }
    return id;
  }

  private int(size: number, signed: boolean): number {
    const names = INT_NAMES[size];
    if (names === undefined) throw new BtfError('ERR_BTF_UNSUPPORTED', `no C integer type of ${size} bytes`);
    const name = signed ? names[0] : names[1];
    return this.base(name, () => ({ kind: 'int', name, size, bits: size * 8, bitOffset: 0, signed, char: false, bool: false }));
  }

  private char(): number {
    // pahole's encoding of `char` (the CHAR bit): bpftool prints a lone one as a one-character
    // string, as a text-mode record decodes `c`, and arrays of it as strings.
    return this.base('char', () => ({ kind: 'int', name: 'char', size: 1, bits: 8, bitOffset: 0, signed: false, char: true, bool: false }));
  }

  private indexType(): number {
    // clang names the index type of every array this way; the kernel wants a plain 32-bit int.
    return this.base('__ARRAY_SIZE_TYPE__', () => ({ kind: 'int', name: '__ARRAY_SIZE_TYPE__', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false }));
  }

  private array(element: number, length: number): number {
    return this.builder.add({ kind: 'array', name: '', type: element, indexType: this.indexType(), length });
  }

  private scalar(scalar: ScalarLayout): number {
    const { format, size } = scalar;
    if (size > 1 && scalar.littleEndian !== nativeLittleEndian && (format.kind === 'int' || format.kind === 'float')) {
      // BTF has no byte order: describe it the way kernel headers do (`__be16 sport`).
      const name = `${nativeLittleEndian ? '__be' : '__le'}${size * 8}`;
      return this.base(name, () => ({ kind: 'typedef', name, type: this.int(size, false) }));
    }
    switch (format.kind) {
      case 'int':
        return this.int(size, format.signed);
      case 'bool':
        return this.base('_Bool', () => ({ kind: 'int', name: '_Bool', size: 1, bits: 8, bitOffset: 0, signed: false, char: false, bool: true }));
      case 'char':
        return this.char();
      case 'float': {
        const name = FLOAT_NAMES[size];
        if (name === undefined) throw new BtfError('ERR_BTF_UNSUPPORTED', `no C float type of ${size} bytes`);
        return this.base(name, () => ({ kind: 'float', name, size }));
      }
      case 'bytes':
        return this.array(this.char(), size);
      case 'pascal': {
        if (size === 0) return this.array(this.int(1, false), 0);
        const name = `pascal${size}`;
        return this.base(name, () => ({
          kind: 'struct',
          name,
          size,
          members: [
            { name: 'len', type: this.int(1, false), bitOffset: 0, bitfieldSize: 0 },
            { name: 'data', type: this.array(this.char(), size - 1), bitOffset: 8, bitfieldSize: 0 },
          ],
        }));
      }
      case 'pad':
        throw new BtfError('ERR_BTF_UNSUPPORTED', 'pad bytes have no type');
    }
  }

  /**
   * The size a value's type will have, placed at `start` with `room` bytes before whatever
   * follows it. Structs take C's size under `@` (rounded up to their alignment), else their
   * extent; never more than `room`, so that members never overlap.
   */
  private measure(value: ValueLayout, start: number, room: number, exact: boolean): number {
    if (value.kind === 'scalar') return value.size;
    if (value.kind === 'array') {
      const shape = this.arrayShape(value, start, room);
      if (shape !== undefined && (!exact || shape.elementSize * value.elements.length === room)) return shape.elementSize * value.elements.length;
    }
    if (exact) return room;
    const extent = (endOf(value) ?? start) - start;
    return Math.min(this.native ? roundUp(extent, alignmentOf(value)) : extent, room);
  }

  /** For an array that C can write as `T a[N]`: its element and the element's size; else undefined. */
  private arrayShape(value: ValueLayout & { kind: 'array' }, start: number, room: number): { element: ValueLayout; elementSize: number } | undefined {
    const [element] = value.elements;
    if (element === undefined || value.uniformStride === undefined) return undefined;
    const count = value.elements.length;
    const elementRoom = count > 1 ? value.uniformStride : room;
    const elementSize = this.measure(element, start, elementRoom, false);
    if (count > 1 && elementSize !== value.uniformStride) return undefined;
    return { element, elementSize };
  }

  /**
   * Adds the type of one value placed at `start`, `room` bytes before the next thing; `exact`
   * makes its size exactly `room` (the whole record: its size must equal the map's value size).
   */
  private value(value: ValueLayout, name: string, start: number, room: number, exact: boolean): { id: number; size: number } {
    const size = this.measure(value, start, room, exact);
    if (value.kind === 'scalar') return { id: this.scalar(value), size };
    if (value.kind === 'array') {
      if (value.elements.length === 0) return { id: this.array(this.int(1, false), 0), size: 0 };
      const shape = this.arrayShape(value, start, room);
      if (shape !== undefined && shape.elementSize * value.elements.length === size) {
        const element = this.value(shape.element, name, start, shape.elementSize, false);
        return { id: this.array(element.id, value.elements.length), size };
      }
      // Elements of different shapes (a tuple): C would write a struct.
      return { id: this.struct(value.elements.map((element, index) => ({ name: `_${index}`, value: element })), name, start, size), size };
    }
    for (const field of value.fields) checkIdentifier(field.name, `field name in '${name}'`);
    return { id: this.struct(value.fields, name, start, size), size };
  }

  private struct(fields: readonly { readonly name: string; readonly value: ValueLayout }[], name: string, start: number, size: number): number {
    const starts = fields.map((field) => firstOffset(field.value));
    const members: { name: string; type: number; bitOffset: number; bitfieldSize: number }[] = [];
    // Members holding no bytes (an empty array) sit where the previous one ended, keeping offsets in order as the kernel requires.
    let cursor = start;
    fields.forEach((field, index) => {
      const memberStart = starts[index] ?? cursor;
      const next = starts.slice(index + 1).find((offset) => offset !== undefined) ?? start + size;
      const member = this.value(field.value, `${name}_${field.name}`, memberStart, next - memberStart, false);
      members.push({ name: field.name, type: member.id, bitOffset: (memberStart - start) * 8, bitfieldSize: 0 });
      cursor = memberStart + member.size;
    });
    return this.builder.add({ kind: 'struct', name, size, members });
  }
}

function checkIdentifier(name: string, what: string): void {
  if (!C_IDENTIFIER.test(name)) {
    throw new BtfError('ERR_BTF_UNSUPPORTED', `${what} '${name}' is not a C identifier: BTF (and the kernel) accept only [A-Za-z_][A-Za-z0-9_]* names`);
  }
}

/** Names of the key and value structs of `btfForRecords`. */
export interface RecordBtfOptions {
  /** C name of the key's struct (default `'key'`). */
  readonly keyName?: string;
  /** C name of the value's struct (default `'value'`). */
  readonly valueName?: string;
  /**
   * Describe the key as `unsigned int` whatever the key record's shape (it must be 4 bytes): the
   * kernel accepts only a 32-bit int key type for array maps.
   */
  readonly u32Key?: boolean;
}

/** A BTF blob describing a key and a value record. */
export interface RecordBtf {
  /** The blob, ready for `loadBtfIntoKernel`. */
  readonly blob: Uint8Array;
  /** The same blob parsed, for codecs, `printC` and `generateTypeScript`. */
  readonly btf: Btf;
  /** The key's type id (0 when there is no key record). */
  readonly keyTypeId: number;
  /** The value's type id. */
  readonly valueTypeId: number;
}

/**
 * BTF for a map's key and value records: what `BpfMap.create` needs (with `loadBtfIntoKernel`)
 * to make a map that bpftool prints formatted and that opens typed through its own BTF.
 * `createWithRecords` (in `map/btf-map.ts`) does all of it in one call.
 *
 * @example
 * const { blob, keyTypeId, valueTypeId } = btfForRecords(keyRecord, valueRecord);
 * const fd = loadBtfIntoKernel(blob);
 * try {
 *   map = BpfMap.create({ type: 'hash', keySize: keyRecord.size, valueSize: valueRecord.size, maxEntries: 64,
 *     btf: { fd, keyTypeId, valueTypeId } }, { key: keyRecord, value: valueRecord });
 * } finally { closeFd(fd); } // the map holds its own reference to the BTF
 */
export function btfForRecords(key: RecordShape | undefined, value: RecordShape, options: RecordBtfOptions = {}): RecordBtf {
  const builder = new BtfBuilder();
  const writer = new RecordBtfWriter(builder);
  let keyTypeId = 0;
  if (key !== undefined) {
    if (options.u32Key) {
      if (key.size !== 4) throw new BtfError('ERR_BTF_SIZE_MISMATCH', `a u32 key type needs a 4-byte key record, got ${key.size} bytes`);
      keyTypeId = builder.add({ kind: 'int', name: 'unsigned int', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false });
    } else {
      keyTypeId = writer.add(key, options.keyName ?? 'key');
    }
  }
  const valueTypeId = writer.add(value, options.valueName ?? 'value');
  const blob = builder.build();
  return { blob, btf: Btf.parse(blob), keyTypeId, valueTypeId };
}
