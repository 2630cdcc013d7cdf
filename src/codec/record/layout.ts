/**
 * Record layout: where every value of a template lives, as a tree of scalars, structs and arrays
 * with absolute byte offsets. Computed once per record; the code generators only read it.
 *
 * With `@` the rules are C's (each scalar aligned to its size, a struct aligned to its widest
 * member and its size rounded up to that, the record's size rounded up too, so `size` equals
 * `sizeof`). A format string inside a template is laid out inline, item by item, as Python's
 * `struct` does. With `=`, `<`, `>` and `!` there is no padding at all.
 */
import { nativeLittleEndian, parseFormat, type ByteOrder, type FormatCode } from './format.js';
import { recordFormatError } from './errors.js';
import { classifyTemplate, MAX_RECORD_SIZE, type Template } from './template.js';

/** One value stored in bytes: an integer, float, bool, char or byte string. */
export interface ScalarLayout {
  readonly kind: 'scalar';
  /** The format character's table entry. */
  readonly format: FormatCode;
  /** Byte offset from the start of the record. */
  readonly offset: number;
  /** Bytes occupied (for `s` and `p`, the string's length). */
  readonly size: number;
  /** Byte order of this value. */
  readonly littleEndian: boolean;
}

/** A struct: named fields in order (pad-only fields hold no value and are left out). */
export interface StructLayout {
  readonly kind: 'struct';
  readonly fields: readonly { readonly name: string; readonly value: ValueLayout }[];
}

/** An array of values. */
export interface ArrayLayout {
  readonly kind: 'array';
  readonly elements: readonly ValueLayout[];
  /**
   * When every element has the same shape at a constant distance, that distance in bytes: the
   * generated code then loops instead of unrolling.
   */
  readonly uniformStride: number | undefined;
}

/** Any value of a record. */
export type ValueLayout = ScalarLayout | StructLayout | ArrayLayout;

/** The layout of a whole record. */
export interface RecordLayout {
  /** The record's value; undefined only when the template holds nothing but pad bytes. */
  readonly root: ValueLayout | undefined;
  /** Total bytes, including padding. */
  readonly size: number;
  /** Alignment (1 unless `@`). */
  readonly alignment: number;
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Scalars and pads a format string yields, before placement. */
interface PlacedItem {
  readonly format: FormatCode;
  readonly size: number;
  readonly values: number;
  readonly isPad: boolean;
}

/** Lays out templates one after another; the cursor is the next free byte. */
class LayoutBuilder {
  private cursor = 0;
  private readonly native: boolean;
  private readonly littleEndian: boolean;

  constructor(byteOrder: ByteOrder) {
    this.native = byteOrder === '@';
    this.littleEndian = byteOrder === '<' || ((byteOrder === '@' || byteOrder === '=') && nativeLittleEndian);
  }

  get position(): number {
    return this.cursor;
  }

  /** The size of one item of a format character in this record's mode. */
  private itemSize(format: FormatCode, where: string): number {
    if (this.native) return format.nativeSize;
    if (format.standardSize === undefined) {
      throw recordFormatError(`${where}: format '${format.code}' exists only with native sizes (byte order '@')`);
    }
    return format.standardSize;
  }

  private align(alignment: number): void {
    if (this.native) this.cursor = roundUp(this.cursor, alignment);
  }

  /** How deep `alignmentOf`/`place` are in the template now. */
  private depth = 0;

  /** Refuses templates nested deeper than MAX_TEMPLATE_DEPTH (and so cyclic ones). */
  private enter(where: string): void {
    if (++this.depth > MAX_TEMPLATE_DEPTH) {
      this.depth = 0;
      throw recordFormatError(`${where}: templates nest deeper than ${MAX_TEMPLATE_DEPTH} levels (is the template cyclic?)`);
    }
  }

  /** Refuses a record that grows past what a map value can hold, before placing its values. */
  private reserve(bytes: number, where: string): void {
    if (this.cursor + bytes > MAX_RECORD_SIZE) {
      throw recordFormatError(`${where}: the record would be ${this.cursor + bytes} bytes, more than the ${MAX_RECORD_SIZE} a map value can hold (the kernel's KMALLOC_MAX_SIZE)`);
    }
  }

  /** The alignment a template needs (1 unless `@`). */
  alignmentOf(template: Template, where: string): number {
    this.enter(where);
    try {
      return this.alignmentOfInner(template, where);
    } finally {
      this.depth--;
    }
  }

  private alignmentOfInner(template: Template, where: string): number {
    if (!this.native) return 1;
    const classified = classifyTemplate(template, where);
    switch (classified.form) {
      case 'format':
        return parseFormat(classified.format, where).items.reduce(
          (widest, item) => Math.max(widest, item.format.kind === 'bytes' || item.format.kind === 'pascal' || item.format.kind === 'pad' ? 1 : this.itemSize(item.format, where)),
          1,
        );
      case 'struct':
        return classified.fields.reduce((widest, [name, field]) => Math.max(widest, this.alignmentOf(field, `${where}.${name}`)), 1);
      case 'array':
        return classified.elements.reduce((widest, element, index) => Math.max(widest, this.alignmentOf(element, `${where}[${index}]`)), 1);
    }
  }

  /** Places a template at the cursor and returns its value's layout (undefined for pads only). */
  place(template: Template, where: string): ValueLayout | undefined {
    this.enter(where);
    try {
      return this.placeInner(template, where);
    } finally {
      this.depth--;
    }
  }

  private placeInner(template: Template, where: string): ValueLayout | undefined {
    const classified = classifyTemplate(template, where);
    switch (classified.form) {
      case 'format':
        return this.placeFormat(classified.format, where);
      case 'struct': {
        const alignment = this.alignmentOf(template, where);
        this.align(alignment);
        const fields: { name: string; value: ValueLayout }[] = [];
        for (const [name, field] of classified.fields) {
          const value = this.place(field, `${where}.${name}`);
          if (value !== undefined) fields.push({ name, value });
        }
        // C rounds a struct's size up to its alignment so that arrays of it stay aligned.
        this.align(alignment);
        return { kind: 'struct', fields };
      }
      case 'array': {
        const elements: ValueLayout[] = [];
        classified.elements.forEach((element, index) => {
          const value = this.place(element, `${where}[${index}]`);
          if (value === undefined) throw recordFormatError(`${where}[${index}]: an array element must hold a value, not only pad bytes`);
          elements.push(value);
        });
        return { kind: 'array', elements, uniformStride: uniformStride(elements) };
      }
    }
  }

  private placeFormat(text: string, where: string): ValueLayout | undefined {
    const parsed = parseFormat(text, where);
    // A prefix inside a template changes only the byte order of that string's values (for
    // network-order fields such as ports); sizes and alignment stay the record's.
    const littleEndian =
      parsed.byteOrder === undefined ? this.littleEndian : parsed.byteOrder === '<' || ((parsed.byteOrder === '@' || parsed.byteOrder === '=') && nativeLittleEndian);
    const scalars: ScalarLayout[] = [];
    let valueItems = 0;
    let onlyImplicitCounts = true;
    for (const item of parsed.items) {
      const { format } = item;
      const size = this.itemSize(format, where);
      this.reserve(item.count * (format.kind === 'bytes' || format.kind === 'pascal' || format.kind === 'pad' ? 1 : size), where);
      if (format.kind === 'bytes' || format.kind === 'pascal') {
        scalars.push({ kind: 'scalar', format, offset: this.cursor, size: item.count, littleEndian });
        this.cursor += item.count;
        valueItems += 1;
        continue;
      }
      // Python aligns even for a zero count ('0l' pads to a long boundary); pads never align.
      if (format.kind !== 'pad') this.align(size);
      if (format.kind === 'pad') {
        this.cursor += item.count;
        continue;
      }
      if (item.explicitCount) onlyImplicitCounts = false;
      for (let index = 0; index < item.count; index++) {
        scalars.push({ kind: 'scalar', format, offset: this.cursor, size, littleEndian });
        this.cursor += size;
      }
      valueItems += 1;
    }
    const [single] = scalars;
    if (scalars.length === 1 && valueItems === 1 && onlyImplicitCounts && single !== undefined) return single;
    if (scalars.length === 0 && valueItems === 0) return undefined;
    return { kind: 'array', elements: scalars, uniformStride: uniformStride(scalars) };
  }
}

/** The offset of a value's first byte, or undefined for an empty struct or array. */
export function firstOffset(value: ValueLayout): number | undefined {
  if (value.kind === 'scalar') return value.offset;
  if (value.kind === 'struct') {
    const [first] = value.fields;
    return first === undefined ? undefined : firstOffset(first.value);
  }
  const [first] = value.elements;
  return first === undefined ? undefined : firstOffset(first);
}

/** A string that is equal for two values exactly when they have the same shape relative to `origin`. */
function shapeSignature(value: ValueLayout, origin: number): string {
  switch (value.kind) {
    case 'scalar':
      return `${value.format.code}${value.size}${value.littleEndian ? '<' : '>'}@${value.offset - origin}`;
    case 'struct':
      return `{${value.fields.map((field) => `${JSON.stringify(field.name)}:${shapeSignature(field.value, origin)}`).join(',')}}`;
    case 'array':
      return `[${value.elements.map((element) => shapeSignature(element, origin)).join(',')}]`;
  }
}

function uniformStride(elements: readonly ValueLayout[]): number | undefined {
  const [first, second] = elements;
  if (first === undefined) return undefined;
  const start = firstOffset(first);
  if (start === undefined) return undefined;
  if (second === undefined) return 0;
  const secondStart = firstOffset(second);
  if (secondStart === undefined) return undefined;
  const stride = secondStart - start;
  const signature = shapeSignature(first, start);
  for (let index = 1; index < elements.length; index++) {
    const element = elements[index] as ValueLayout;
    const elementStart = firstOffset(element);
    if (elementStart !== start + index * stride || shapeSignature(element, elementStart) !== signature) return undefined;
  }
  return stride;
}

/** Templates may nest this deep (structs in arrays in structs...); deeper is refused, so is a cycle. */
export const MAX_TEMPLATE_DEPTH = 64;

/**
 * Lays out a template with a byte order.
 * @throws TypeError (`ERR_BPFMAP_RECORD_FORMAT`) naming the part of the template that is wrong.
 */
export function layoutRecord(template: Template, byteOrder: ByteOrder): RecordLayout {
  const builder = new LayoutBuilder(byteOrder);
  const alignment = builder.alignmentOf(template, 'template');
  const root = builder.place(template, 'template');
  // Like C's sizeof, the record ends on its alignment so that it can be an array element or a map value.
  const size = roundUp(builder.position, alignment);
  return { root, size, alignment };
}
