/**
 * The layout of a BTF type as one line of text, for telling whether two BTF blobs describe the
 * same key or value: what a reader of the bytes depends on (struct, union and enum names, member
 * names and bit offsets, bitfield widths, integer sizes and signedness, array lengths, enumerator
 * values, float sizes), not type ids or the names of typedefs and qualifiers (`u32`, `__u32` and
 * `unsigned int` are one layout). Pointers are not followed (`*` and the pointee's name), so
 * recursive types end.
 */
import type { Btf } from './btf.js';

/** Nesting deeper than this is written as `...` (BTF allows deep chains; layouts are shallow). */
const MAX_DEPTH = 32;

/**
 * The layout of type `id` of `btf` as text: `struct flow {pid u32@0, comm [16]s8@32}`. Two types
 * with the same text lay out and name their bytes alike.
 *
 * @example
 * btfTypeShape(btf, btf.typeByName('flow_key', 'struct').id) === btfTypeShape(other, otherId);
 */
export function btfTypeShape(btf: Btf, id: number, depth = 0): string {
  if (depth > MAX_DEPTH) return '...';
  const type = btf.type(id);
  switch (type.kind) {
    case 'void':
      return 'void';
    case 'int':
      if (type.bool) return 'bool';
      return `${type.signed ? 's' : 'u'}${type.bits}${type.bits !== type.size * 8 ? `/${type.size * 8}` : ''}${type.bitOffset ? `>>${type.bitOffset}` : ''}`;
    case 'float':
      return `f${type.size * 8}`;
    case 'ptr': {
      const target = btf.type(type.type);
      return `*${target.name || target.kind}`;
    }
    case 'array':
      return `[${type.length}]${btfTypeShape(btf, type.type, depth + 1)}`;
    case 'struct':
    case 'union': {
      const members = type.members.map((member) => `${member.name || '_'} ${btfTypeShape(btf, member.type, depth + 1)}@${member.bitOffset}${member.bitfieldSize ? `:${member.bitfieldSize}` : ''}`);
      return `${type.kind} ${type.name || '_'}/${type.size} {${members.join(', ')}}`;
    }
    case 'enum':
    case 'enum64':
      return `enum ${type.name || '_'}/${type.size}${type.signed ? 's' : 'u'} {${type.values.map((value) => `${value.name}=${String(value.value)}`).join(', ')}}`;
    case 'fwd':
      return `${type.union ? 'union' : 'struct'} ${type.name};`;
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      return btfTypeShape(btf, type.type, depth + 1);
    default:
      return `${type.kind} ${type.name}`;
  }
}
