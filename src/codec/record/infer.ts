/**
 * The TypeScript type a record template decodes to, worked out by the compiler from the template
 * itself, so that `BpfRecord.define([['uid', 'Q'], ['comm', '16s']])` is a
 * `BpfRecord<{ uid: bigint; comm: Uint8Array }>` with nothing written twice.
 *
 * These types follow the rules of `layout.ts` and `decoder.ts`: a format string with one value and
 * no written count is a scalar (`'Q'`, `'16s'`), any other is an array (`'4Q'`, `'BxH'`, `'1Q'`);
 * a string of pad bytes only (`'3x'`) is left out of its struct; a list of `[name, template]`
 * pairs is a struct, any other list a tuple, and `arrayOf(template, n)` an array. Sizes of `l L n
 * N P` assume a 64-bit platform (where bpfmap runs). Where the compiler cannot see a template
 * (a `string` rather than a literal), the type falls back to `RecordValue`.
 */
import type { ByteOrder } from './format.js';
import type { RecordValue } from './record.js';
import type { ArrayTemplate, FieldTemplate, Template } from './template.js';

/** The options that change decoded types: string mode and byte order. */
export interface InferOptions {
  readonly byteOrder?: ByteOrder;
  readonly strings?: 'bytes' | 'text';
}

type Whitespace = ' ' | '\t' | '\n' | '\r' | '\v' | '\f';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type Prefix = '@' | '=' | '<' | '>' | '!';

/** One parsed item: its format character and whether a count was written before it. */
type Item = readonly [code: string, counted: boolean];

/** Parses a format string (after its prefix) into items; pads are dropped. */
type Items<S extends string, Count extends string = '', Out extends readonly Item[] = []> =
  S extends `${infer C}${infer Rest}`
    ? C extends Whitespace
      ? Items<Rest, Count, Out>
      : C extends Digit
        ? Items<Rest, `${Count}${C}`, Out>
        : C extends 'x'
          ? Items<Rest, '', Out>
          : Items<Rest, '', [...Out, readonly [C, Count extends '' ? false : true]]>
    : Out;

/** The item list of a whole format string. */
type FormatItems<S extends string> = S extends `${Prefix}${infer Rest}` ? Items<Rest> : Items<S>;

/** An option's value as the record sees it: the literal given, or its default when left out. */
type OptionOf<O, K extends keyof InferOptions, Default> =
  K extends keyof O ? (O extends { readonly [P in K]?: infer V } ? Exclude<V, undefined> | (undefined extends V ? Default : never) : Default) : Default;

/** Whether the record's sizes are native (`@`): true, false, or boolean when not known. */
type IsNative<O> = [OptionOf<O, 'byteOrder', '='>] extends ['@'] ? true : '@' extends OptionOf<O, 'byteOrder', '='> ? boolean : false;

/** What `s`, `p` and `c` decode to. */
type StringValue<O> = [OptionOf<O, 'strings', 'bytes'>] extends ['text'] ? string : [OptionOf<O, 'strings', 'bytes'>] extends ['bytes'] ? Uint8Array : string | Uint8Array;

/** What one format character decodes to. */
type ScalarOf<C extends string, O> =
  C extends 's' | 'p' | 'c' ? StringValue<O>
  : C extends '?' ? boolean
  : C extends 'q' | 'Q' | 'n' | 'N' | 'P' ? bigint
  : C extends 'l' | 'L' ? (IsNative<O> extends true ? bigint : IsNative<O> extends false ? number : number | bigint)
  : C extends 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'e' | 'f' | 'd' ? number
  : RecordValue;

/** Marks a template that holds only pad bytes: its struct field is left out. */
declare const padOnly: unique symbol;
interface PadOnly {
  readonly [padOnly]: true;
}

/** What a format string decodes to. */
type FormatValue<S extends string, O extends InferOptions> =
  string extends S
    ? RecordValue
    : FormatItems<S> extends infer I extends readonly Item[]
      ? I extends readonly []
        ? PadOnly
        : I extends readonly [readonly [infer C extends string, infer Counted]]
          ? C extends 's' | 'p'
            ? ScalarOf<C, O>
            : Counted extends true ? Array<ScalarOf<C, O>> : ScalarOf<C, O>
          : Array<ScalarOf<I[number][0], O>>
      : RecordValue;

/** A struct's fields, pad-only fields left out. */
type StructValue<F extends readonly FieldTemplate[], O extends InferOptions> = Flatten<{
  [E in F[number] as TemplateValue<E[1], O> extends PadOnly ? never : E[0]]: TemplateValue<E[1], O>;
}>;

/** Shows an object type as its fields (in editors and error messages) rather than by its alias. */
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** A list of templates: a tuple of their values. */
type TupleValue<T extends readonly Template[], O extends InferOptions> = { -readonly [I in keyof T]: TemplateValue<T[I], O> };

/** What a template decodes to (a pad-only format string gives the `PadOnly` marker). */
type TemplateValue<T, O extends InferOptions> =
  T extends string ? FormatValue<T, O>
  : T extends readonly [] ? []
  : T extends readonly FieldTemplate[] ? StructValue<T, O>
  : T extends readonly Template[] ? TupleValue<T, O>
  : T extends ArrayTemplate<infer E> ? Array<TemplateValue<E, O>>
  : RecordValue;

/**
 * The value a record built from template `T` with options `O` decodes to.
 *
 * @example
 * type Flow = InferRecord<[['saddr', 'I'], ['port', '!H'], ['pad', '2x'], ['bytes', 'Q']]>;
 * // { saddr: number; port: number; bytes: bigint }
 */
export type InferRecord<T extends Template, O extends InferOptions = {}> = TemplateValue<T, O> extends infer V ? (V extends PadOnly ? never : V) : never;
