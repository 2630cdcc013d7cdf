/**
 * Codecs from BTF types: decode a map's bytes into plain JavaScript values through the map's own
 * C types, and encode them back, byte for byte.
 *
 * Representation (the TypeScript generator in `typescript.ts` emits exactly these types):
 * - ints up to 32 bits → `number`; 64- and 128-bit ints and pointers → `bigint`; `_Bool` → `boolean`
 * - bitfields → `number` up to 32 bits, `bigint` above; signed ones are sign-extended
 * - enums → the enumerator's name, or the number (`bigint` for 8-byte enums) when none matches;
 *   encode takes a name or a number
 * - `char` arrays → `string` (latin1, trailing NULs dropped, so bytes after an inner NUL survive
 *   as `\u0000`s and the round trip stays exact); other arrays → JS arrays
 * - structs → objects with members at their BTF offsets (never recomputed); members of anonymous
 *   structs/unions are lifted into the enclosing object, as C lets you name them
 * - unions → every member decoded over the same bytes. Encode takes exactly one member (the
 *   generated type is a union of single-member objects); a value that was decoded may keep every
 *   member, and then the one member that was changed is written (read-modify-write), over the
 *   bytes that were read. Several members, or several changed ones that disagree, are an
 *   `ERR_BPFMAP_BTF_UNION` error naming them.
 * - a member the type does not have is an `ERR_BPFMAP_UNKNOWN_FIELD` error naming it
 * - float/double → `number`; `long double` → its raw bytes (`Uint8Array`)
 * - typedef/const/volatile/restrict/type_tag → transparent; a `var` → its type
 * - DATASEC (`.data`, `.bss`, `.rodata` maps) → `{ [section]: { [variable]: value } }`
 * Encoding zero-fills padding and writes nothing when the value does not fit (errors name the field).
 */
import { type Codec } from '../codec.js';
import type { Btf } from './btf.js';
import { CoderBuilder } from './coder-builder.js';
import { fail } from './value-coders.js';
import { installBtfCodec } from './codec-support.js';

export { bitsAreBig, isCharArray, placeMember, checkArrayLength, MAX_ARRAY_ELEMENTS, type MemberPlacement } from './type-layout.js';

const builders = new WeakMap<Btf, CoderBuilder>();

/**
 * A codec for a BTF type, decoding to plain JavaScript values (see the module comment for the
 * mapping). `T` is what the caller asserts the values look like; `generateTypeScript` emits
 * matching declarations.
 *
 * @example
 * const btf = btfFromFile('prog.bpf.o');
 * const codec = btfCodec<Value>(btf, btf.typeByName('value', 'struct').id);
 * const value = codec.decode(bytes, 0);
 * @throws BtfError when the type has no size (void, function, forward declaration) or is cyclic.
 */
export function btfCodec<T = unknown>(btf: Btf, typeId: number): Codec<T> {
  let builder = builders.get(btf);
  if (!builder) {
    builder = new CoderBuilder(btf);
    builders.set(btf, builder);
  }
  const coder = builder.coder(typeId, 0);
  const size = btf.size(typeId);
  // Allocated on first encode: decode-only users (dumps) never pay for it.
  let scratch: Uint8Array | undefined;
  let scratchView: DataView | undefined;
  return {
    size,
    decode(source: Uint8Array, offset: number): T {
      if (offset < 0 || offset + size > source.length) fail('range', `need ${size} bytes at offset ${offset}, have ${source.length}`);
      return coder.decode(new DataView(source.buffer, source.byteOffset, source.byteLength), offset) as T;
    },
    encode(value: T, target: Uint8Array, offset: number): void {
      if (offset < 0 || offset + size > target.length) fail('range', `need ${size} bytes at offset ${offset}, have ${target.length}`);
      if (!scratch || !scratchView) {
        scratch = new Uint8Array(size);
        scratchView = new DataView(scratch.buffer);
      } else scratch.fill(0);
      coder.encode(value, scratchView, 0);
      target.set(scratch, offset);
    },
  };
}

// The object loader reaches btfCodec through this hook, so that loading an object need not load the codec modules.
installBtfCodec(btfCodec);
