/**
 * CO-RE access specs: an access string such as `0:1:2:3` turned into the accessors it walks
 * (libbpf's `bpf_core_parse_spec`), and the search for the same accessors in a kernel candidate
 * type (`bpf_core_spec_match`): named members are found by name through anonymous structs and
 * unions, array indexes are checked against the target's bounds, and the bit offset is summed
 * along the way.
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { BtfComposite, BtfType } from '../../codec/btf/types.js';
import type { CoreRelocationKind } from '../btf-ext.js';
import { essentialName, fieldsAreCompatible, typesAreCompatible, typesMatch } from './compat.js';
import { CoreFailure } from './errors.js';

/** libbpf's `BPF_CORE_SPEC_MAX_LEN`: how deep an access may go. */
const SPEC_MAX_LENGTH = 64;

/** One meaningful step of an access: a named member, an array element, or an enumerator. */
export interface CoreAccessor {
  /** The (modifier-free) type the step is taken in: a struct/union, an array element type, an enum. */
  readonly typeId: number;
  /** Member, element or enumerator index. */
  readonly index: number;
  /** The member's or enumerator's name; undefined for an array index. */
  readonly name: string | undefined;
}

/** A parsed (local) or matched (target) access. */
export interface CoreSpec {
  readonly btf: Btf;
  readonly rootTypeId: number;
  readonly kind: CoreRelocationKind;
  /** High-level steps: named members, array indexes (anonymous members are skipped). */
  readonly accessors: CoreAccessor[];
  /** Low-level steps: one per access-string element, anonymous members included. */
  readonly raw: number[];
  /** Bit offset of the accessed field from the root. */
  bitOffset: number;
}

/** Kinds that read a field. */
export function isFieldKind(kind: CoreRelocationKind): boolean {
  return kind.startsWith('field_');
}

/** Kinds about a whole type. */
export function isTypeKind(kind: CoreRelocationKind): boolean {
  return kind.startsWith('type_');
}

/** Kinds about an enumerator. */
export function isEnumValueKind(kind: CoreRelocationKind): boolean {
  return kind.startsWith('enumval_');
}

function bad(message: string): CoreFailure {
  return new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', message);
}

function isComposite(type: BtfType): type is BtfComposite {
  return type.kind === 'struct' || type.kind === 'union';
}

/** libbpf's `is_flex_arr`: a zero-length array that is the last member of its struct. */
function isFlexibleArray(btf: Btf, previous: CoreAccessor | undefined, length: number): boolean {
  if (!previous || previous.name === undefined || length > 0) return false;
  const owner = btf.type(previous.typeId);
  return isComposite(owner) && previous.index === owner.members.length - 1;
}

/**
 * Parses a relocation's access string against the local BTF.
 * @throws CoreFailure when the access string does not fit the type.
 */
export function parseSpec(btf: Btf, rootTypeId: number, accessString: string, kind: CoreRelocationKind): CoreSpec {
  const spec: CoreSpec = { btf, rootTypeId, kind, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (accessString !== '0') throw bad(`a ${kind} relocation takes access string '0'`);
    return spec;
  }
  for (const part of accessString.split(':')) {
    if (!/^\d+$/.test(part)) throw bad('the access string is not colon-separated indexes');
    if (spec.raw.length === SPEC_MAX_LENGTH) throw bad(`the access is deeper than ${SPEC_MAX_LENGTH} steps`);
    const index = Number(part);
    if (index > 0x7fffffff) throw bad(`index ${part} is out of range`);
    spec.raw.push(index);
  }
  let type = btf.resolve(rootTypeId);
  let id = type.id;
  const first = spec.raw[0] as number;
  if (isEnumValueKind(kind)) {
    if ((type.kind !== 'enum' && type.kind !== 'enum64') || spec.raw.length > 1 || first >= type.values.length) {
      throw bad(`an ${kind} relocation needs an enum and one enumerator index within it`);
    }
    spec.accessors.push({ typeId: id, index: first, name: (type.values[first] as { name: string }).name });
    return spec;
  }
  if (!isFieldKind(kind)) throw bad(`unknown relocation kind ${kind}`);
  spec.accessors.push({ typeId: id, index: first, name: undefined });
  spec.bitOffset = first * btf.size(id) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    type = btf.resolve(id);
    id = type.id;
    const index = spec.raw[i] as number;
    if (isComposite(type)) {
      const member = type.members[index];
      if (!member) throw bad(`member index ${index} is past the ${type.members.length} members of ${type.kind} ${type.name || `[${id}]`}`);
      spec.bitOffset += member.bitOffset;
      if (member.name !== '') spec.accessors.push({ typeId: id, index, name: member.name });
      id = member.type;
    } else if (type.kind === 'array') {
      const element = btf.resolve(type.type);
      id = element.id;
      if (!isFlexibleArray(btf, spec.accessors[spec.accessors.length - 1], type.length) && index >= type.length) {
        throw bad(`array index ${index} is past the array's ${type.length} elements`);
      }
      spec.accessors.push({ typeId: id, index, name: undefined });
      spec.bitOffset += index * btf.size(id) * 8;
    } else {
      throw bad(`step ${i} of the access reaches a ${type.kind}, which has no members or elements`);
    }
  }
  return spec;
}

/**
 * Finds the local named member `local` in the target type (looking through anonymous members),
 * extending `spec`. Returns the member's type id, or undefined when there is no compatible one.
 */
function matchMember(localBtf: Btf, local: CoreAccessor, target: Btf, targetId: number, spec: CoreSpec): number | undefined {
  const targetType = target.resolve(targetId);
  targetId = targetType.id;
  if (!isComposite(targetType)) return undefined;
  const localOwner = localBtf.type(local.typeId) as BtfComposite;
  const localMember = localOwner.members[local.index];
  if (!localMember) throw bad(`member index ${local.index} is past the local type's members`);
  for (let i = 0; i < targetType.members.length; i++) {
    const member = targetType.members[i] as (typeof targetType.members)[number];
    if (spec.raw.length === SPEC_MAX_LENGTH) throw bad(`the target access is deeper than ${SPEC_MAX_LENGTH} steps`);
    spec.bitOffset += member.bitOffset;
    spec.raw.push(i);
    if (member.name === '') {
      const found = matchMember(localBtf, local, target, member.type, spec);
      if (found !== undefined) return found;
    } else if (member.name === localMember.name) {
      if (!fieldsAreCompatible(localBtf, localMember.type, target, member.type)) return undefined;
      spec.accessors.push({ typeId: targetId, index: i, name: member.name });
      return member.type;
    }
    spec.bitOffset -= member.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

/**
 * Matches a local spec against a target candidate type. Returns the target spec, `undefined` when
 * the candidate does not match, or `true` for type-based kinds that match (they carry no accessors).
 */
export function matchSpec(local: CoreSpec, target: Btf, targetRootId: number): CoreSpec | undefined {
  const spec: CoreSpec = { btf: target, rootTypeId: targetRootId, kind: local.kind, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeKind(local.kind)) {
    const matches = local.kind === 'type_matches'
      ? typesMatch(local.btf, local.rootTypeId, target, targetRootId)
      : typesAreCompatible(local.btf, local.rootTypeId, target, targetRootId);
    return matches ? spec : undefined;
  }
  const first = local.accessors[0];
  if (!first) throw bad('the local access is empty');
  if (isEnumValueKind(local.kind)) {
    const type = target.resolve(targetRootId);
    if (type.kind !== 'enum' && type.kind !== 'enum64') return undefined;
    const wanted = essentialName(first.name ?? '');
    const index = type.values.findIndex((value) => essentialName(value.name) === wanted);
    if (index < 0) return undefined;
    spec.accessors.push({ typeId: type.id, index, name: (type.values[index] as { name: string }).name });
    spec.raw.push(index);
    return spec;
  }
  let targetId = targetRootId;
  for (let i = 0; i < local.accessors.length; i++) {
    const accessor = local.accessors[i] as CoreAccessor;
    let targetType = target.resolve(targetId);
    targetId = targetType.id;
    if (accessor.name !== undefined) {
      const next = matchMember(local.btf, accessor, target, targetId, spec);
      if (next === undefined) return undefined;
      targetId = next;
    } else {
      if (i > 0) {
        if (targetType.kind !== 'array') return undefined;
        if (!isFlexibleArray(target, spec.accessors[spec.accessors.length - 1], targetType.length) && accessor.index >= targetType.length) return undefined;
        targetType = target.resolve(targetType.type);
        targetId = targetType.id;
      }
      if (spec.raw.length === SPEC_MAX_LENGTH) throw bad(`the target access is deeper than ${SPEC_MAX_LENGTH} steps`);
      spec.accessors.push({ typeId: targetId, index: accessor.index, name: undefined });
      spec.raw.push(accessor.index);
      spec.bitOffset += accessor.index * target.size(targetId) * 8;
    }
  }
  return spec;
}

/** libbpf's spec format for messages: `task_struct.real_parent (0:95 @ offset 2480)`. */
export function formatSpec(spec: CoreSpec): string {
  const root = spec.btf.type(spec.rootTypeId);
  const head = `${root.kind} ${root.name || '<anon>'}`;
  if (isTypeKind(spec.kind)) return head;
  if (isEnumValueKind(spec.kind)) return `${head}::${spec.accessors[0]?.name ?? '?'}`;
  const path = spec.accessors.map((a, i) => (a.name !== undefined ? `.${a.name}` : i > 0 || a.index > 0 ? `[${a.index}]` : '')).join('');
  const offset = spec.bitOffset % 8 ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}` : `${spec.bitOffset / 8}`;
  return `${head}${path} (${spec.raw.join(':')} @ offset ${offset})`;
}
