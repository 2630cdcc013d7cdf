/**
 * The compatibility rules CO-RE uses between a local (object) type and a kernel type, as libbpf's
 * relo_core.c defines them: essential names (`___flavor` suffixes dropped), field compatibility
 * (`bpf_core_fields_are_compat`), type-relocation compatibility (`bpf_core_types_are_compat`)
 * and the stricter `type_matches` relation (`bpf_core_types_match`).
 *
 * Results follow libbpf's tri-state: `true` compatible, `false` not, and a thrown `CoreFailure`
 * where libbpf returns an error (too deep, broken BTF).
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { BtfType } from '../../codec/btf/types.js';
import { CoreFailure } from './errors.js';

/** libbpf's recursion bound for type comparisons. */
const MAX_DEPTH = 32;

/**
 * The name without its flavor: `task_struct___old` → `task_struct`. Only a triple underscore
 * between two non-underscore characters counts (libbpf's `bpf_core_essential_name_len`).
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

/** Kind equality where enum and enum64 count as one kind (libbpf's `btf_kind_core_compat`). */
export function kindsCoreCompatible(a: BtfType['kind'], b: BtfType['kind']): boolean {
  return a === b || ((a === 'enum' || a === 'enum64') && (b === 'enum' || b === 'enum64'));
}

function isComposite(type: BtfType): boolean {
  return type.kind === 'struct' || type.kind === 'union';
}

function intEncoding(type: BtfType): number {
  return type.kind === 'int' ? (type.signed ? 1 : 0) | (type.char ? 2 : 0) | (type.bool ? 4 : 0) : 0;
}

/** True when an int is an ordinary one (no deprecated `BTF_INT_OFFSET`). */
function plainInt(type: BtfType): boolean {
  return type.kind === 'int' && type.bitOffset === 0;
}

/** Type ids named by a `func_proto`'s return and parameters. */
function protoOf(type: BtfType): { returnType: number; params: readonly number[] } {
  if (type.kind !== 'func_proto') throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', `expected a func_proto, found a ${type.kind}`);
  return { returnType: type.returnType, params: type.params.map((p) => p.type) };
}

/**
 * Whether a local field's type can be relocated to a target field's type (structs/unions mix,
 * pointers and floats always match, enums and fwds by essential name or anonymity, ints of any
 * size and sign, arrays by element type).
 */
export function fieldsAreCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH * 2; depth++) {
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCoreCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case 'ptr': case 'float':
        return true;
      case 'fwd': case 'enum': case 'enum64': {
        const ln = essentialName(l.name);
        const tn = essentialName(t.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case 'int':
        return plainInt(l) && plainInt(t);
      case 'array':
        if (t.kind !== 'array') return false;
        localId = l.type;
        targetId = t.type;
        break;
      default:
        return false;
    }
  }
  throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'array nesting too deep comparing field types');
}

/**
 * Whether a local type and a kernel type are compatible for type-based relocations
 * (`type_exists`, `type_size`, `type_id_target`); the root names were already matched.
 */
export function typesAreCompatible(local: Btf, localId: number, target: Btf, targetId: number, level = MAX_DEPTH): boolean {
  if (!kindsCoreCompatible(local.type(localId).kind, target.type(targetId).kind)) return false;
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'type chain too deep comparing types');
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (!kindsCoreCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case 'void': case 'struct': case 'union': case 'enum': case 'enum64': case 'fwd':
        return true;
      case 'int':
        return plainInt(l) && plainInt(t);
      case 'ptr':
        if (t.kind !== 'ptr') return false;
        localId = l.type;
        targetId = t.type;
        break;
      case 'array':
        if (t.kind !== 'array') return false;
        localId = l.type;
        targetId = t.type;
        break;
      case 'func_proto': {
        const lp = protoOf(l);
        const tp = protoOf(t);
        if (lp.params.length !== tp.params.length) return false;
        for (let i = 0; i < lp.params.length; i++) {
          if (level <= 0) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'function prototypes nest too deeply');
          const lParam = local.resolve(lp.params[i] as number).id;
          const tParam = target.resolve(tp.params[i] as number).id;
          if (!typesAreCompatible(local, lParam, target, tParam, level - 1)) return false;
        }
        localId = local.resolve(lp.returnType).id;
        targetId = target.resolve(tp.returnType).id;
        break;
      }
      default:
        return false;
    }
  }
}

/** libbpf's `bpf_core_names_match`: an anonymous target matches only an anonymous local. */
function namesMatch(localName: string, targetName: string): boolean {
  if (targetName === '') return localName === '';
  return essentialName(localName) === essentialName(targetName);
}

function enumNames(type: BtfType): string[] {
  return type.kind === 'enum' || type.kind === 'enum64' ? type.values.map((v) => v.name) : [];
}

/**
 * The `type_matches` relation (`bpf_core_types_match`): same kinds after modifiers and typedefs,
 * ints of equal size and sign, enums whose local enumerators all exist by name, structs whose
 * local members all exist by name with matching types (only names and kinds behind pointers),
 * arrays of equal length, function prototypes argument by argument.
 */
export function typesMatch(local: Btf, localId: number, target: Btf, targetId: number, behindPointer = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'types nest too deeply for type_matches');
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) throw new CoreFailure('ERR_BPFMAP_CORE_BAD_RELOCATION', 'type chain too deep for type_matches');
    const l = local.resolve(localId);
    const t = target.resolve(targetId);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case 'void':
        return t.kind === 'void';
      case 'fwd':
        if (behindPointer && t.kind !== 'fwd') return (t.kind === 'struct' && !l.union) || (t.kind === 'union' && l.union);
        return t.kind === 'fwd' && l.union === t.union;
      case 'enum': case 'enum64': {
        if (t.kind !== 'enum' && t.kind !== 'enum64') return false;
        if (l.size !== t.size) return false;
        const targetNames = enumNames(t);
        if (l.values.length > targetNames.length) return false;
        return l.values.every((v) => targetNames.some((n) => namesMatch(v.name, n)));
      }
      case 'struct': case 'union':
        if (behindPointer) {
          if (l.kind === t.kind) return true;
          if (t.kind !== 'fwd') return false;
          return (l.kind === 'union') === t.union;
        }
        if (l.kind !== t.kind || (t.kind !== 'struct' && t.kind !== 'union')) return false;
        if (l.members.length > t.members.length) return false;
        for (const member of l.members) {
          const found = t.members.some((candidate) => namesMatch(member.name, candidate.name)
            && typesMatch(local, member.type, target, candidate.type, behindPointer, level - 1));
          if (!found) return false;
        }
        return true;
      case 'int':
        return t.kind === 'int' && l.size === t.size && (intEncoding(l) & 1) === (intEncoding(t) & 1);
      case 'ptr':
        if (t.kind !== 'ptr') return false;
        behindPointer = true;
        localId = l.type;
        targetId = t.type;
        break;
      case 'array':
        if (t.kind !== 'array' || l.length !== t.length) return false;
        localId = l.type;
        targetId = t.type;
        break;
      case 'func_proto': {
        if (t.kind !== 'func_proto') return false;
        if (l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(local, (l.params[i] as { type: number }).type, target, (t.params[i] as { type: number }).type, behindPointer, level - 1)) return false;
        }
        localId = l.returnType;
        targetId = t.returnType;
        break;
      }
      default:
        return false;
    }
  }
}

export { intEncoding };
