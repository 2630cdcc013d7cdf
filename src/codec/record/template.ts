/**
 * Record templates: the pybpfmap-style description of a layout, and how to tell its forms apart.
 *
 * - a format string (`'Q'`, `'16s'`, `'4Q'`, `'!H'`) is a scalar, or an array when it holds more
 *   than one value or writes a repeat count;
 * - a list of `[name, template]` pairs is a struct;
 * - any other list is an array of its element templates;
 * - `arrayOf(template, length)` is an array of `length` copies of one template.
 *
 * JavaScript has no tuples, so a list of two-element lists that start with a string reads as a
 * struct; write `arrayOf(['B', 'H'], 4)` for an array of such lists.
 */
import { show } from '../codec.js';
import { recordFormatError } from './errors.js';

/** A struct field: its name and its template. */
export type FieldTemplate = readonly [name: string, template: Template];

/** An array of `length` elements of one template (`E`, kept in the type for `BpfRecord.define`). */
export interface ArrayTemplate<E extends Template = Template> {
  /** The element template. */
  readonly arrayOf: E;
  /** How many elements. */
  readonly length: number;
}

/**
 * The largest record: a map value can be no larger than the kernel's KMALLOC_MAX_SIZE (4 MiB on
 * x86-64 and arm64 with 4 KiB pages), so a template that needs more is refused before its values
 * are laid out one by one.
 */
export const MAX_RECORD_SIZE = 4 << 20;

/** Any record template: a format string, a struct, an array, or `arrayOf`. */
export type Template = string | readonly FieldTemplate[] | readonly Template[] | ArrayTemplate;

/**
 * An array of `length` copies of `element`: unambiguous where a list literal would read as a
 * struct, and shorter than repeating a nested template by hand.
 *
 * @example
 * new BpfRecord([['flows', arrayOf([['saddr', 'I'], ['daddr', 'I']], 16)]]);
 */
export function arrayOf<const E extends Template>(element: E, length: number): ArrayTemplate<E> {
  if (!Number.isSafeInteger(length) || length < 0) throw recordFormatError(`arrayOf: length must be a non-negative integer, got ${show(length)}`);
  return { arrayOf: element, length };
}

/** The form of a template, with its parts. */
export type ClassifiedTemplate =
  | { readonly form: 'format'; readonly format: string }
  | { readonly form: 'struct'; readonly fields: readonly FieldTemplate[] }
  | { readonly form: 'array'; readonly elements: readonly Template[] };

function isFieldPair(entry: unknown): entry is FieldTemplate {
  return Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string';
}

/**
 * Says which form a template has.
 * @param where the path of the template in its record, for error messages.
 * @throws TypeError for anything that is not a template, and for duplicate field names.
 */
export function classifyTemplate(template: unknown, where: string): ClassifiedTemplate {
  if (typeof template === 'string') return { form: 'format', format: template };
  if (Array.isArray(template)) {
    const entries = template as readonly unknown[];
    if (entries.length > 0 && entries.every(isFieldPair)) {
      const fields = entries as readonly FieldTemplate[];
      const seen = new Set<string>();
      for (const [name] of fields) {
        if (name === '') throw recordFormatError(`${where}: a field name must not be empty`);
        if (name === '__proto__') throw recordFormatError(`${where}: '__proto__' cannot be a field name`);
        if (seen.has(name)) {
          throw recordFormatError(
            `${where}: field '${name}' appears twice (a list of [string, template] lists reads as a struct: use arrayOf() for an array of such lists)`,
          );
        }
        seen.add(name);
      }
      return { form: 'struct', fields };
    }
    return { form: 'array', elements: entries as readonly Template[] };
  }
  if (typeof template === 'object' && template !== null && 'arrayOf' in template) {
    const { arrayOf: element, length } = template as ArrayTemplate;
    if (!Number.isSafeInteger(length) || length < 0) throw recordFormatError(`${where}: arrayOf length must be a non-negative integer`);
    // Every element takes at least a byte, and no map value is larger than MAX_RECORD_SIZE.
    if (length > MAX_RECORD_SIZE) throw recordFormatError(`${where}: arrayOf length ${length} is more than the ${MAX_RECORD_SIZE} bytes a map value can hold (the kernel's KMALLOC_MAX_SIZE)`);
    return { form: 'array', elements: new Array<Template>(length).fill(element) };
  }
  throw recordFormatError(`${where}: expected a format string, a list of [name, template] pairs, a list of templates or arrayOf(), got ${template === null ? 'null' : typeof template}`);
}
