/**
 * `FilteredMap`: a view of a typed map that lets its holder read and write only some fields of
 * the values (pybpfmap's `FilteredBPFMap`, made correct).
 *
 * A mask mirrors the value: each field or array element is `'rw'`, `'ro'` or `'hidden'`. Reads
 * leave hidden fields out. A write names only writable fields; the view reads the current value,
 * replaces those fields and writes the whole value back, so every other byte keeps what the map
 * held. Anything not allowed throws before the map changes.
 *
 * The mask is checked against the shape the map's value codec decodes to, so it works with any
 * codec that decodes to plain objects and arrays (records, BTF types).
 */
import { BpfError } from '../sys/errors.js';
import { argumentError } from '../sys/errors.js';
import type { BpfMap } from './bpf-map.js';

/** What the holder of a view may do with a field. */
export type FieldAccess = 'rw' | 'ro' | 'hidden';

/**
 * A mask for a value: one access for a whole field (and everything inside it); for a struct, an
 * object of field masks (fields left out are hidden); for an array, an array of element masks or
 * an object keyed by index (indexes left out are hidden).
 */
export type AccessMask = FieldAccess | readonly AccessMask[] | { readonly [fieldOrIndex: string]: AccessMask };

/** A value as a view shows it: hidden fields absent, hidden array elements left as holes. */
export type Visible<V> = V extends Uint8Array | bigint | number | string | boolean
  ? V
  : V extends readonly (infer E)[]
    ? Array<Visible<E> | undefined>
    : V extends object
      ? { [P in keyof V]?: Visible<V[P]> }
      : V;

/**
 * What `set` takes: any subset of the writable fields, nested as deep as needed; an array may be
 * given whole (holes and undefined elements are left as they are) or as an object keyed by index
 * (`{ data: { 2: 5n } }`).
 */
export type ValuePatch<V> = V extends Uint8Array | bigint | number | string | boolean
  ? V
  : V extends readonly (infer E)[]
    ? ReadonlyArray<ValuePatch<E> | undefined> | { readonly [index: number]: ValuePatch<E> | undefined }
    : V extends object
      ? { readonly [P in keyof V]?: ValuePatch<V[P]> }
      : V;

/** What a view allows. */
export interface FilteredMapOptions {
  /** Access to the value's fields. For per-CPU maps, the mask of one CPU's value. */
  readonly mask: AccessMask;
  /** Whether `set` may add keys that are not in the map (new values start as zero bytes). Default false. */
  readonly create?: boolean;
  /** Whether `delete` and `getAndDelete` are allowed. Default false. */
  readonly delete?: boolean;
}

/** The mask resolved against the value's shape. */
type MaskNode =
  | { readonly kind: 'uniform'; readonly access: FieldAccess }
  | { readonly kind: 'struct'; readonly fields: ReadonlyMap<string, MaskNode> }
  | { readonly kind: 'array'; readonly elements: readonly MaskNode[] };

const HIDDEN: MaskNode = { kind: 'uniform', access: 'hidden' };
/** Marks a filtered-out value while building a read. */
const ABSENT = Symbol('absent');

function isComposite(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}

function maskError(message: string): TypeError {
  return argumentError(TypeError, 'ERR_BPFMAP_MASK', message);
}

function accessError(path: string, access: FieldAccess): TypeError {
  return argumentError(TypeError, 'ERR_BPFMAP_FIELD_ACCESS', `${path} is ${access === 'ro' ? 'read-only' : 'hidden'} in this view: only writable fields may be set`);
}

/** Resolves a mask against a sample value (the codec's decoding of zero bytes). */
function resolveMask(mask: AccessMask | undefined, sample: unknown, path: string): MaskNode {
  if (mask === undefined) return HIDDEN;
  if (mask === 'rw' || mask === 'ro' || mask === 'hidden') return { kind: 'uniform', access: mask };
  if (typeof mask !== 'object' || mask === null) throw maskError(`${path}: expected 'rw', 'ro', 'hidden', an object or an array, got ${String(mask)}`);
  if (Array.isArray(sample)) {
    const byIndex = mask as Readonly<Record<string, AccessMask>>;
    if (Array.isArray(mask) && mask.length !== sample.length) throw maskError(`${path}: the mask has ${mask.length} elements but the value has ${sample.length}`);
    for (const index of Object.keys(mask)) {
      if (!/^\d+$/.test(index) || Number(index) >= sample.length) throw maskError(`${path}: no element ${index} in an array of ${sample.length}`);
    }
    return { kind: 'array', elements: sample.map((element, index) => resolveMask(byIndex[index], element, `${path}[${index}]`)) };
  }
  if (isComposite(sample) && !Array.isArray(mask)) {
    const fieldMasks = mask as Readonly<Record<string, AccessMask>>;
    for (const name of Object.keys(fieldMasks)) {
      if (!Object.hasOwn(sample, name)) throw maskError(`${path}: the value has no field '${name}' (fields: ${Object.keys(sample).join(', ')})`);
    }
    return { kind: 'struct', fields: new Map(Object.entries(sample).map(([name, field]) => [name, resolveMask(fieldMasks[name], field, `${path}.${name}`)])) };
  }
  throw maskError(`${path}: a ${Array.isArray(mask) ? 'list' : 'field'} mask does not fit a value of this shape; give 'rw', 'ro' or 'hidden'`);
}

/** The value with hidden parts removed, or ABSENT when nothing is visible. */
function filterValue(value: unknown, node: MaskNode): unknown {
  switch (node.kind) {
    case 'uniform':
      return node.access === 'hidden' ? ABSENT : value;
    case 'struct': {
      const source = value as Record<string, unknown>;
      const visible: Record<string, unknown> = {};
      let any = false;
      for (const [name, field] of node.fields) {
        const shown = filterValue(source[name], field);
        if (shown !== ABSENT) {
          visible[name] = shown;
          any = true;
        }
      }
      return any ? visible : ABSENT;
    }
    case 'array': {
      const source = value as unknown[];
      const visible: unknown[] = new Array<unknown>(source.length);
      let any = false;
      node.elements.forEach((element, index) => {
        const shown = filterValue(source[index], element);
        if (shown !== ABSENT) {
          visible[index] = shown;
          any = true;
        }
      });
      return any ? visible : ABSENT;
    }
  }
}

/** Throws unless every part present in `partial` is writable. */
function checkWritable(partial: unknown, node: MaskNode, path: string): void {
  if (node.kind === 'uniform') {
    if (node.access !== 'rw') throw accessError(path, node.access);
    return;
  }
  if (!isComposite(partial)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_FIELD_ACCESS', `${path}: expected ${node.kind === 'struct' ? 'an object' : 'an array'} of the fields to change`);
  }
  if (node.kind === 'struct') {
    if (Array.isArray(partial)) throw argumentError(TypeError, 'ERR_BPFMAP_FIELD_ACCESS', `${path}: expected an object of the fields to change, got an array`);
    for (const [name, field] of Object.entries(partial)) {
      if (field === undefined) continue;
      const child = node.fields.get(name);
      if (child === undefined) throw argumentError(TypeError, 'ERR_BPFMAP_FIELD_ACCESS', `${path}: the value has no field '${name}'`);
      checkWritable(field, child, `${path}.${name}`);
    }
    return;
  }
  for (const [index, element] of Object.entries(partial)) {
    if (element === undefined) continue;
    const child = /^\d+$/.test(index) ? node.elements[Number(index)] : undefined;
    if (child === undefined) throw argumentError(RangeError, 'ERR_BPFMAP_FIELD_ACCESS', `${path}: no element ${index} in an array of ${node.elements.length}`);
    checkWritable(element, child, `${path}[${index}]`);
  }
}

/** `current` with the parts present in `partial` replaced (a new value; `current` is not changed). */
function mergeValue(current: unknown, partial: unknown, node: MaskNode): unknown {
  if (node.kind === 'uniform') {
    // A writable struct or array may still be given in part: merge into what is there.
    if (!isComposite(partial) || !isComposite(current)) return partial;
    const merged: Record<string, unknown> | unknown[] = Array.isArray(current) ? [...current] : { ...current };
    for (const [name, field] of Object.entries(partial)) {
      if (field !== undefined) (merged as Record<string, unknown>)[name] = mergeValue((merged as Record<string, unknown>)[name], field, node);
    }
    return merged;
  }
  if (node.kind === 'struct') {
    const merged: Record<string, unknown> = { ...(current as Record<string, unknown>) };
    for (const [name, field] of Object.entries(partial as Record<string, unknown>)) {
      if (field !== undefined) merged[name] = mergeValue(merged[name], field, node.fields.get(name) as MaskNode);
    }
    return merged;
  }
  const merged = [...(current as unknown[])];
  for (const [index, element] of Object.entries(partial as Record<string, unknown>)) {
    if (element !== undefined) merged[Number(index)] = mergeValue(merged[Number(index)], element, node.elements[Number(index)] as MaskNode);
  }
  return merged;
}

/** Tries a read-modify-write again this often when another writer adds or removes the key in between. */
const WRITE_ATTEMPTS = 3;

/**
 * A field-permission view of a typed map.
 *
 * @example
 * const counters = BpfMap.openPinned(path, { key: new BpfRecord('I'), value: new BpfRecord([['data', '8Q']]) });
 * const view = new FilteredMap(counters, { mask: { data: { 2: 'rw' } } });
 * view.get(0);                          // { data: [ , , 2n, , , , , ] }: only data[2] is visible
 * view.set(0, { data: { 2: 5n } });     // the other seven values stay as they are
 * view.set(0, { data: { 3: 1n } });     // TypeError ERR_BPFMAP_FIELD_ACCESS: value.data[3] is hidden
 */
export class FilteredMap<K, V> {
  /** The map the view reads and writes. */
  readonly map: BpfMap<K, V>;
  /** Whether `set` may add keys. */
  readonly canCreate: boolean;
  /** Whether `delete` and `getAndDelete` are allowed. */
  readonly canDelete: boolean;
  readonly #mask: MaskNode;

  /** @throws TypeError (`ERR_BPFMAP_MASK`) when the mask does not fit the map's value. */
  constructor(map: BpfMap<K, V>, options: FilteredMapOptions) {
    this.map = map;
    this.canCreate = options.create ?? false;
    this.canDelete = options.delete ?? false;
    const sample = this.#zeroValue();
    // Per-CPU maps decode to one value per CPU: the mask applies to each of them.
    if (map.perCpu && Array.isArray(sample)) {
      const perValue = resolveMask(options.mask, sample[0], 'value');
      this.#mask = { kind: 'array', elements: sample.map(() => perValue) };
    } else {
      this.#mask = resolveMask(options.mask, sample, 'value');
    }
  }

  #zeroValue(): V {
    return this.map.valueCodec.decode(new Uint8Array(this.map.valueBufferSize), 0);
  }

  /** The visible part of the value under `key`, or undefined when the key is missing. */
  get(key: K): Visible<V> | undefined {
    const value = this.map.get(key);
    return value === undefined ? undefined : this.#visible(value);
  }

  #visible(value: V): Visible<V> {
    const shown = filterValue(value, this.#mask);
    // A view that shows no field still says that the key exists.
    return (shown === ABSENT ? (Array.isArray(value) ? [] : {}) : shown) as Visible<V>;
  }

  /** True when the map holds `key`. */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /**
   * Changes the writable fields given in `partial` and keeps every other byte of the current
   * value. Adds the key (from zero bytes) only when the view allows creating.
   * @throws TypeError (`ERR_BPFMAP_FIELD_ACCESS`) for a read-only, hidden or unknown field;
   *   BpfError (`ERR_BPFMAP_CREATE_DENIED`) for a missing key when creating is not allowed.
   *   Either way the map is unchanged.
   */
  set(key: K, partial: ValuePatch<V>): this {
    checkWritable(partial, this.#mask, 'value');
    for (let attempt = 1; ; attempt++) {
      const current = this.map.get(key);
      if (current === undefined && !this.canCreate) {
        throw new BpfError(`set: the key is not in map '${this.map.name}' and this view may not add keys`, { code: 'ERR_BPFMAP_CREATE_DENIED', errno: 0 });
      }
      const merged = mergeValue(current ?? this.#zeroValue(), partial, this.#mask) as V;
      try {
        // 'exist'/'noexist' make a concurrent add or delete fail instead of being overwritten.
        this.map.set(key, merged, current === undefined ? 'noexist' : 'exist');
        return this;
      } catch (error) {
        const raced = error instanceof BpfError && (error.code === 'EEXIST' || error.code === 'ENOENT');
        if (!raced || attempt >= WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Deletes `key`; true when it existed.
   * @throws BpfError (`ERR_BPFMAP_DELETE_DENIED`) when the view may not delete.
   */
  delete(key: K): boolean {
    this.#requireDelete('delete');
    return this.map.delete(key);
  }

  /**
   * Removes `key` and returns the visible part of its value, in one kernel operation.
   * @throws BpfError (`ERR_BPFMAP_DELETE_DENIED`) when the view may not delete.
   */
  getAndDelete(key: K): Visible<V> | undefined {
    this.#requireDelete('getAndDelete');
    const value = this.map.getAndDelete(key);
    return value === undefined ? undefined : this.#visible(value);
  }

  #requireDelete(operation: string): void {
    if (!this.canDelete) {
      throw new BpfError(`${operation}: this view of map '${this.map.name}' may not delete keys`, { code: 'ERR_BPFMAP_DELETE_DENIED', errno: 0 });
    }
  }

  /** Entries with the visible part of each value. */
  *entries(): Generator<[K, Visible<V>]> {
    for (const [key, value] of this.map.entries()) yield [key, this.#visible(value)];
  }

  /** The keys (keys are never filtered). */
  keys(): Generator<K> {
    return this.map.keys();
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[K, Visible<V>]> {
    return this.entries();
  }
}
