/**
 * The value a CO-RE relocation puts into its instruction, computed from a spec (libbpf's
 * `bpf_core_calc_field_relo`, `..._type_relo`, `..._enumval_relo` and `bpf_core_calc_relo`):
 * once from the local spec (what clang already wrote, to check the instruction against) and once
 * from the matched kernel spec (what to write). A missing kernel spec poisons field reads and enum
 * values, and gives 0 for existence checks and type relocations.
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { BtfComposite } from '../../codec/btf/types.js';
import type { CoreRelocationKind } from '../btf-ext.js';
import { intEncoding } from './compat.js';
import { CoreFailure } from './errors.js';
import { isEnumValueKind, isFieldKind, isTypeKind, type CoreSpec } from './spec.js';

/** One side's value, and for field offsets the memory size of the load or store it feeds. */
interface SideValue {
  readonly value: bigint;
  /** Byte size of the accessed element (0 when the kind does not size a memory access). */
  readonly memorySize: number;
  /** The accessed element's type id (for the size-adjustment rule). */
  readonly typeId: number;
  /** Whether the instruction must already hold the local value. */
  readonly validate: boolean;
}

/** A relocation's outcome. */
export interface CoreCalculation {
  /** Value clang wrote (from the local spec). */
  readonly original: bigint;
  /** Value for the running kernel. */
  readonly value: bigint;
  /** Replace the instruction by an invalid call (the kernel lacks what it reads). */
  readonly poison: boolean;
  /** Check that the instruction holds `original` before patching. */
  readonly validate: boolean;
  /** Load/store size of the local and the kernel field (they differ when a field changed size). */
  readonly originalSize: number;
  readonly newSize: number;
  /** True when the sizes differ in a way a narrower/wider load cannot fix (poisons loads/stores). */
  readonly failMemorySizeAdjust: boolean;
}

/** Marker: the kernel side is missing, poison the instruction. */
const POISON = Symbol('poison');

function elementSize(btf: Btf, typeId: number): { size: number; elementId: number } {
  let type = btf.resolve(typeId);
  while (type.kind === 'array') type = btf.resolve(type.type);
  return { size: btf.size(type.id), elementId: type.id };
}

function fieldValue(kind: CoreRelocationKind, spec: CoreSpec | undefined): SideValue | typeof POISON {
  if (kind === 'field_exists') return { value: spec ? 1n : 0n, memorySize: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const btf = spec.btf;
  const last = spec.accessors[spec.accessors.length - 1];
  if (!last) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'the access has no steps');
  if (last.name === undefined) {
    // An array element (or the root itself, `0`): offset and size only.
    if (kind === 'field_byte_offset') {
      const { size } = elementSize(btf, last.typeId);
      return { value: BigInt(Math.floor(spec.bitOffset / 8)), memorySize: size, typeId: last.typeId, validate: true };
    }
    if (kind === 'field_byte_size') return { value: BigInt(btf.size(last.typeId)), memorySize: 0, typeId: 0, validate: true };
    throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `a ${kind} relocation cannot apply to an array element`);
  }
  const owner = btf.type(last.typeId) as BtfComposite;
  const member = owner.members[last.index];
  if (!member) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `member index ${last.index} is out of range`);
  const memberType = btf.resolve(member.type);
  const fieldTypeId = memberType.id;
  const bitOffset = spec.bitOffset;
  let bitSize = member.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOffset: number;
  if (bitfield) {
    byteSize = btf.size(fieldTypeId);
    byteOffset = Math.floor(Math.floor(bitOffset / 8) / byteSize) * byteSize;
    while (bitOffset + bitSize - byteOffset * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new CoreFailure('ERR_BPFMAP_CORE_OUT_OF_RANGE', `bitfield ${member.name} cannot be read with a 64-bit load`);
      byteSize *= 2;
      byteOffset = Math.floor(Math.floor(bitOffset / 8) / byteSize) * byteSize;
    }
  } else {
    byteSize = btf.size(fieldTypeId);
    byteOffset = Math.floor(bitOffset / 8);
    bitSize = byteSize * 8;
  }
  // Bitfield offsets and sizes may legitimately differ from clang's choice: not validated.
  const validate = !bitfield;
  switch (kind) {
    case 'field_byte_offset':
      if (bitfield) return { value: BigInt(byteOffset), memorySize: 0, typeId: 0, validate };
      return { value: BigInt(byteOffset), memorySize: elementSize(btf, fieldTypeId).size, typeId: fieldTypeId, validate };
    case 'field_byte_size':
      return { value: BigInt(byteSize), memorySize: 0, typeId: 0, validate };
    case 'field_signed': {
      const signed = ((memberType.kind === 'enum' || memberType.kind === 'enum64') && memberType.signed)
        || (memberType.kind === 'int' && (intEncoding(memberType) & 1) !== 0);
      return { value: signed ? 1n : 0n, memorySize: 0, typeId: 0, validate: true };
    }
    case 'field_lshift_u64':
      // Little-endian hosts (x86-64, arm64) only: bpfmap runs where the kernel runs.
      return { value: BigInt(64 - (bitOffset + bitSize - byteOffset * 8)), memorySize: 0, typeId: 0, validate };
    case 'field_rshift_u64':
      return { value: BigInt(64 - bitSize), memorySize: 0, typeId: 0, validate: true };
    default:
      throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `${kind} is not a field relocation`);
  }
}

function typeValue(kind: CoreRelocationKind, spec: CoreSpec | undefined): SideValue {
  if (!spec) return { value: 0n, memorySize: 0, typeId: 0, validate: true };
  switch (kind) {
    case 'type_id_target':
      // The id in the instruction may have changed when objects were linked: not validated.
      return { value: BigInt(spec.rootTypeId), memorySize: 0, typeId: 0, validate: false };
    case 'type_exists': case 'type_matches':
      return { value: 1n, memorySize: 0, typeId: 0, validate: true };
    case 'type_size':
      return { value: BigInt(spec.btf.size(spec.rootTypeId)), memorySize: 0, typeId: 0, validate: true };
    default:
      throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `${kind} is not a type relocation`);
  }
}

function enumValue(kind: CoreRelocationKind, spec: CoreSpec | undefined): SideValue | typeof POISON {
  if (kind === 'enumval_exists') return { value: spec ? 1n : 0n, memorySize: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const accessor = spec.accessors[0];
  const type = accessor ? spec.btf.type(accessor.typeId) : undefined;
  const entry = type && (type.kind === 'enum' || type.kind === 'enum64') ? type.values[accessor?.index ?? -1] : undefined;
  if (!entry) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'the enumerator is out of range');
  // libbpf reads a 32-bit enumerator as __s32 into a u64: sign-extended whatever the enum's sign.
  const value = typeof entry.value === 'bigint' ? BigInt.asUintN(64, entry.value) : BigInt.asUintN(64, BigInt(entry.value | 0));
  return { value, memorySize: 0, typeId: 0, validate: true };
}

function sideValue(kind: CoreRelocationKind, spec: CoreSpec | undefined): SideValue | typeof POISON {
  if (isFieldKind(kind)) return fieldValue(kind, spec);
  if (isTypeKind(kind)) return typeValue(kind, spec);
  if (isEnumValueKind(kind)) return enumValue(kind, spec);
  throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `unknown relocation kind ${kind}`);
}

/** Pointers and unsigned ints may be loaded with another width; anything else would read wrong. */
function sizeChangeIsSafe(local: Btf, localTypeId: number, target: Btf, targetTypeId: number): boolean {
  const l = local.type(localTypeId);
  const t = target.type(targetTypeId);
  if (l.kind === 'ptr' && t.kind === 'ptr') return true;
  return l.kind === 'int' && t.kind === 'int' && intEncoding(l) !== 1 && intEncoding(t) !== 1;
}

/**
 * The relocation's outcome for one candidate (`target` undefined: no kernel candidate matched).
 * @throws CoreFailure when the local side cannot be computed.
 */
export function calculate(kind: CoreRelocationKind, local: CoreSpec, target: CoreSpec | undefined): CoreCalculation {
  const original = sideValue(kind, local);
  if (original === POISON) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'the local side of the relocation is missing');
  const updated = sideValue(kind, target);
  if (updated === POISON) {
    return { original: original.value, value: 0n, poison: true, validate: original.validate, originalSize: original.memorySize, newSize: 0, failMemorySizeAdjust: false };
  }
  const failMemorySizeAdjust = original.memorySize !== updated.memorySize && target !== undefined
    && !sizeChangeIsSafe(local.btf, original.typeId, target.btf, updated.typeId);
  return {
    original: original.value,
    value: updated.value,
    poison: false,
    validate: original.validate,
    originalSize: original.memorySize,
    newSize: updated.memorySize,
    failMemorySizeAdjust,
  };
}
