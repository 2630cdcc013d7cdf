/**
 * The BTF type model: one plain, immutable object per type, discriminated by `kind`. Types refer
 * to each other by id (numbers), never by object, so that lazily parsed and cyclic graphs
 * (a struct holding a pointer to itself) need no special handling.
 */

/** Kind numbers as stored in `btf_type.info` bits 24-28. */
export const BTF_KIND_NUMBERS = {
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;

/** A BTF kind's name (lower case, as in the kernel's `BTF_KIND_*` without the prefix). */
export type BtfKindName = keyof typeof BTF_KIND_NUMBERS;

/** Kind names indexed by kind number (index 0 is void). */
export const BTF_KIND_NAMES: readonly (BtfKindName | 'void')[] = [
  'void',
  ...(Object.keys(BTF_KIND_NUMBERS) as BtfKindName[]),
];

/** Fields every type has. */
interface BtfTypeCommon {
  /** The type id (0 is void). */
  readonly id: number;
  /** The type's name; `''` for anonymous types. */
  readonly name: string;
}

/** Type id 0. */
export interface BtfVoid extends BtfTypeCommon {
  readonly kind: 'void';
}

/** An integer, `char` or `_Bool`. */
export interface BtfInt extends BtfTypeCommon {
  readonly kind: 'int';
  /** Storage size in bytes (1, 2, 4, 8 or 16). */
  readonly size: number;
  /** Value bits (`BTF_INT_BITS`); less than `size * 8` for bitfield-only ints. */
  readonly bits: number;
  /** Bit offset of the value within its storage (`BTF_INT_OFFSET`), almost always 0. */
  readonly bitOffset: number;
  readonly signed: boolean;
  /** `BTF_INT_CHAR` (pahole's `char`; clang encodes `char` as a signed 8-bit int instead). */
  readonly char: boolean;
  readonly bool: boolean;
}

/** A pointer. Its size is the target's pointer size (8 for BPF). */
export interface BtfPtr extends BtfTypeCommon {
  readonly kind: 'ptr';
  /** The pointee's type id. */
  readonly type: number;
}

/** A fixed-length array. */
export interface BtfArray extends BtfTypeCommon {
  readonly kind: 'array';
  /** The element type id. */
  readonly type: number;
  /** The index type id (an int; irrelevant to layout). */
  readonly indexType: number;
  /** Number of elements. */
  readonly length: number;
}

/** One member of a struct or union. */
export interface BtfMember {
  /** `''` for anonymous struct/union members. */
  readonly name: string;
  readonly type: number;
  /** Offset of the member from the start of its struct, in bits. */
  readonly bitOffset: number;
  /**
   * Bitfield width from the `kind_flag` encoding; 0 when the struct does not use it (the width is
   * then the member int's `bits`, see `memberLayout`).
   */
  readonly bitfieldSize: number;
}

/** A struct or union. */
export interface BtfComposite extends BtfTypeCommon {
  readonly kind: 'struct' | 'union';
  readonly size: number;
  readonly members: readonly BtfMember[];
}

/** An enumerator of a 32-bit `enum`. */
export interface BtfEnumValue {
  readonly name: string;
  /** Signed or unsigned 32-bit value as the enum's `signed` flag says. */
  readonly value: number;
}

/** An enum whose enumerators fit 32 bits. */
export interface BtfEnum extends BtfTypeCommon {
  readonly kind: 'enum';
  /** Storage size in bytes (1, 2, 4 or 8). */
  readonly size: number;
  /** `kind_flag`: the enumerators are signed. */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

/** An enumerator of an `enum64`. */
export interface BtfEnum64Value {
  readonly name: string;
  readonly value: bigint;
}

/** An enum with 64-bit enumerators. */
export interface BtfEnum64 extends BtfTypeCommon {
  readonly kind: 'enum64';
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnum64Value[];
}

/** A forward declaration (`struct foo;`). */
export interface BtfFwd extends BtfTypeCommon {
  readonly kind: 'fwd';
  /** `kind_flag`: declared as `union` rather than `struct`. */
  readonly union: boolean;
}

/** typedef, volatile, const, restrict and type_tag: a name or qualifier over another type. */
export interface BtfReference extends BtfTypeCommon {
  readonly kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  readonly type: number;
}

/** Linkage of a function or variable (`0` static, `1` global, `2` extern). */
export type BtfLinkage = number;

/** A function: a name over a `func_proto`. */
export interface BtfFunc extends BtfTypeCommon {
  readonly kind: 'func';
  readonly type: number;
  readonly linkage: BtfLinkage;
}

/** One parameter of a function prototype; a trailing `{name: '', type: 0}` means `...`. */
export interface BtfParam {
  readonly name: string;
  readonly type: number;
}

/** A function prototype. */
export interface BtfFuncProto extends BtfTypeCommon {
  readonly kind: 'func_proto';
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

/** A global variable. */
export interface BtfVar extends BtfTypeCommon {
  readonly kind: 'var';
  readonly type: number;
  readonly linkage: BtfLinkage;
}

/** One variable of a data section. */
export interface BtfVarSecinfo {
  /** The `var` type id. */
  readonly type: number;
  /** Byte offset in the section. */
  readonly offset: number;
  /** Byte size. */
  readonly size: number;
}

/** A data section (`.data`, `.bss`, `.rodata`, ...) and the variables in it. */
export interface BtfDatasec extends BtfTypeCommon {
  readonly kind: 'datasec';
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

/** A floating-point type. */
export interface BtfFloat extends BtfTypeCommon {
  readonly kind: 'float';
  /** 2, 4, 8, 12 or 16 bytes. */
  readonly size: number;
}

/** An attribute attached to a type, or to one of its members/parameters. */
export interface BtfDeclTag extends BtfTypeCommon {
  readonly kind: 'decl_tag';
  readonly type: number;
  /** -1 for the type itself, else the member or parameter index. */
  readonly componentIndex: number;
}

/** Any BTF type. */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfReference
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

/** The type of a kind, e.g. `BtfTypeOfKind<'struct'>` is `BtfComposite`. */
export type BtfTypeOfKind<K extends BtfType['kind']> = BtfType extends infer T ? (T extends BtfType ? (K extends T['kind'] ? T : never) : never) : never;

/** The void type (id 0). */
export const BTF_VOID: BtfVoid = Object.freeze({ kind: 'void', id: 0, name: '' });
