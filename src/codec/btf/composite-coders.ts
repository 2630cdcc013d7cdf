/** Structs and unions: placed fields, members lifted from anonymous members, and union read-modify-write. */
import { closestName } from '../field-names.js';
import type { BtfComposite } from './types.js';
import { type Coder, fail, within } from './value-coders.js';

/**
 * Structs whose bytes in a map value belong to the kernel: it never copies them from user space
 * (a bpf_spin_lock in an update is skipped; timers and the like are initialised by the kernel).
 * A value written without such a member is complete: the member is left zero.
 */
export const KERNEL_OWNED_STRUCTS: ReadonlySet<string> = new Set([
  'bpf_spin_lock', 'bpf_res_spin_lock', 'bpf_timer', 'bpf_wq', 'bpf_task_work', 'bpf_list_head', 'bpf_list_node',
  'bpf_rb_root', 'bpf_rb_node', 'bpf_refcount',
]);

/** A placed field of a struct/union: a coder, or the lifted parts of an anonymous member. */
export interface Field {
  readonly name: string;
  readonly byteOffset: number;
  readonly size: number;
  readonly coder?: Coder;
  readonly lifted?: CompositeParts;
  /** A kernel-owned struct (bpf_spin_lock, ...): optional when encoding, zero when left out. */
  readonly kernelOwned?: boolean;
}

export interface CompositeParts {
  readonly union: boolean;
  readonly size: number;
  readonly fields: readonly Field[];
  /** Every name a value of this type may hold, lifted members included. */
  readonly names: ReadonlySet<string>;
  /** For unions: `unionKey` of these parts. */
  readonly unionKey: string;
}

export function memberNames(fields: readonly Field[], into = new Set<string>()): Set<string> {
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


export function decodeParts(parts: CompositeParts, view: DataView, offset: number, out: Record<string, unknown>): void {
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
export function checkNames(parts: CompositeParts, value: Record<string, unknown>, type: BtfComposite): void {
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

export function encodeParts(parts: CompositeParts, value: Record<string, unknown>, view: DataView, offset: number, type: BtfComposite): void {
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
