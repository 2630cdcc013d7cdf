/**
 * The object's `.BTF` made loadable, as libbpf's `btf_fixup_datasec` and extern handling make
 * it: clang leaves each DATASEC's size and its variables' offsets at 0 (the linker would fill
 * them), which the kernel refuses. The sizes come from the ELF sections, the offsets from the
 * symbol table; the `.kconfig` section gets the layout the loader chose; extern variables become
 * allocated globals. The blob is patched in place (a copy), so every string offset — which
 * line_info records point into — stays valid.
 */
import { Btf } from '../codec/btf/btf.js';
import type { ElfObject } from './elf.js';
import { SymbolBinding, SymbolType, SHN_UNDEF } from './elf.js';
import type { KconfigExtern } from './kconfig.js';

const RECORD_HEADER = 12;
const SECINFO_SIZE = 12;
/** `BTF_VAR_GLOBAL_ALLOCATED`. */
const VAR_GLOBAL_ALLOCATED = 1;
/** `BTF_VAR_GLOBAL_EXTERN`. */
const VAR_GLOBAL_EXTERN = 2;

/** `BTF_FUNC_STATIC`, `BTF_FUNC_GLOBAL`. */
const FUNC_STATIC = 0;
const FUNC_GLOBAL = 1;
/** `STV_INTERNAL`, `STV_HIDDEN`. */
const HIDDEN_VISIBILITIES: ReadonlySet<number> = new Set([1, 2]);
const KIND_VAR = 14;
const DUMMY_KSYM = 'dummy_ksym';

/**
 * The `.ksyms` DATASEC as libbpf hands it to the kernel: every extern a 4-byte slot, variables
 * typed `int` and allocated, functions (kfuncs) replaced by one `dummy_ksym` variable appended to
 * the blob, their prototypes' unnamed parameters named after it, their linkage made global. The
 * kernel refuses extern linkage and functions inside a DATASEC; the loader resolves ksyms in the
 * instructions, so what the BTF says about them only has to pass the kernel's checks.
 */
function withKsymsFixed(btf: Btf): Btf {
  const ksyms = btf.typesByName('.ksyms', 'datasec')[0];
  if (!ksyms || ksyms.vars.length === 0) return btf;
  const intType = [...btf.types()].find((t) => t.kind === 'int' && t.size === 4 && t.bits === 32 && !t.bool);
  const hasFunc = ksyms.vars.some((v) => btf.type(v.type).kind === 'func');
  const le = btf.header.littleEndian;
  const { headerLength, typeOffset, typeLength, stringOffset, stringLength } = btf.header;
  // Append, when needed, an `int` and a `dummy_ksym` VAR (types) and their names (strings).
  const extraStrings = Buffer.from(hasFunc ? `${DUMMY_KSYM}\0${intType ? '' : 'int\0'}` : (intType ? '' : 'int\0'), 'latin1');
  const dummyNameOffset = stringLength;
  const intNameOffset = stringLength + (hasFunc ? DUMMY_KSYM.length + 1 : 0);
  const extraTypes: number[] = [];
  let intId = intType?.id ?? 0;
  let nextId = btf.lastTypeId + 1;
  if (!intType) {
    intId = nextId++;
    extraTypes.push(intNameOffset, (1 << 24) >>> 0, 4, (1 << 24) | 32); // INT, signed, 32 bits
  }
  const dummyId = hasFunc ? nextId++ : 0;
  if (hasFunc) extraTypes.push(dummyNameOffset, (KIND_VAR << 24) >>> 0, intId, VAR_GLOBAL_ALLOCATED);
  const typeBytes = new Uint8Array(extraTypes.length * 4);
  const typeView = new DataView(typeBytes.buffer);
  extraTypes.forEach((word, i) => typeView.setUint32(i * 4, word, le));
  const types = btf.bytes.subarray(headerLength + typeOffset, headerLength + typeOffset + typeLength);
  const strings = btf.bytes.subarray(headerLength + stringOffset, headerLength + stringOffset + stringLength);
  const out = new Uint8Array(headerLength + types.length + typeBytes.length + strings.length + extraStrings.length);
  out.set(btf.bytes.subarray(0, headerLength), 0);
  out.set(types, headerLength);
  out.set(typeBytes, headerLength + types.length);
  out.set(strings, headerLength + types.length + typeBytes.length);
  out.set(extraStrings, headerLength + types.length + typeBytes.length + strings.length);
  const view = new DataView(out.buffer);
  view.setUint32(8, 0, le);
  view.setUint32(12, types.length + typeBytes.length, le);
  view.setUint32(16, types.length + typeBytes.length, le);
  view.setUint32(20, strings.length + extraStrings.length, le);
  // Record offsets are unchanged (the types moved to offset 0 of the type section only if they were not there).
  const shift = headerLength - (headerLength + typeOffset);
  const recordAt = (id: number): number => btf.recordOffset(id) + shift;
  const at = recordAt(ksyms.id);
  ksyms.vars.forEach((secinfo, i) => {
    const entry = at + RECORD_HEADER + i * SECINFO_SIZE;
    const member = btf.type(secinfo.type);
    if (member.kind === 'func') {
      const fnAt = recordAt(member.id);
      view.setUint32(fnAt + 4, (view.getUint32(fnAt + 4, le) & ~0xffff) | FUNC_GLOBAL, le);
      const proto = btf.type(member.type);
      if (proto.kind === 'func_proto') {
        const protoAt = recordAt(proto.id);
        proto.params.forEach((param, j) => {
          if (param.type && !param.name) view.setUint32(protoAt + RECORD_HEADER + j * 8, dummyNameOffset, le);
        });
      }
      view.setUint32(entry, dummyId, le);
    } else if (member.kind === 'var') {
      const varAt = recordAt(member.id);
      view.setUint32(varAt + 8, intId, le);
      view.setUint32(varAt + RECORD_HEADER, VAR_GLOBAL_ALLOCATED, le);
    }
    view.setUint32(entry + 4, i * 4, le);
    view.setUint32(entry + 8, 4, le);
  });
  view.setUint32(at + 8, ksyms.vars.length * 4, le);
  return Btf.parse(out);
}

/**
 * A copy of the object's BTF with DATASEC sizes and variable offsets filled in and sorted by
 * offset, extern variables made allocated (the kernel accepts no extern linkage), and global
 * functions of hidden visibility made static, as libbpf does: the verifier then checks them in
 * their callers' context (`usdt.bpf.h`'s `__weak __hidden bpf_usdt_arg(ctx, n, &res)` is only
 * verifiable that way, its `res` pointer being the caller's stack).
 */
export function fixupObjectBtf(original: Btf, elf: ElfObject, kconfig: { externs: readonly KconfigExtern[]; size: number } | undefined): Btf {
  const btf = withKsymsFixed(original);
  const bytes = btf.bytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = btf.header.littleEndian;
  // Symbol offsets by section index and name (variables are OBJECT symbols; static ones too).
  const offsets = new Map<number, Map<string, number>>();
  for (const symbol of elf.symbols) {
    if (symbol.type !== SymbolType.OBJECT && symbol.type !== SymbolType.NOTYPE) continue;
    let bySection = offsets.get(symbol.section);
    if (!bySection) offsets.set(symbol.section, (bySection = new Map()));
    bySection.set(symbol.name, symbol.value);
  }
  const hiddenFunctions = new Set(
    elf.symbols
      .filter((s) => s.type === SymbolType.FUNC && s.section !== SHN_UNDEF && s.binding !== SymbolBinding.LOCAL && HIDDEN_VISIBILITIES.has(s.visibility))
      .map((s) => s.name),
  );
  // Only VARs, DATASECs and hidden FUNCs change: the others (thousands, with vmlinux.h) are not decoded.
  for (let id = btf.firstTypeId; id <= btf.lastTypeId; id++) {
    const kind = btf.kindOf(id);
    if (kind === 'func' && hiddenFunctions.size > 0) {
      const fn = btf.type(id);
      if (fn.kind === 'func' && hiddenFunctions.has(fn.name)) {
        const at = btf.recordOffset(id) + 4;
        view.setUint32(at, (view.getUint32(at, le) & ~0xffff) | FUNC_STATIC, le);
      }
      continue;
    }
    if (kind !== 'var' && kind !== 'datasec') continue;
    const type = btf.type(id);
    if (type.kind === 'var' && type.linkage === VAR_GLOBAL_EXTERN) {
      view.setUint32(btf.recordOffset(type.id) + RECORD_HEADER, VAR_GLOBAL_ALLOCATED, le);
    }
    if (type.kind !== 'datasec' || type.name === '.ksyms') continue;
    const at = btf.recordOffset(type.id);
    let size: number | undefined;
    let offsetOf: (name: string) => number | undefined;
    if (type.name === '.kconfig' && kconfig) {
      size = kconfig.size;
      const byName = new Map(kconfig.externs.map((e) => [e.name, e.offset]));
      offsetOf = (name) => byName.get(name);
    } else {
      const section = elf.section(type.name);
      if (!section) continue;
      size = section.size;
      const symbols = offsets.get(section.index);
      offsetOf = (name) => symbols?.get(name);
    }
    view.setUint32(at + 8, size, le);
    const vars = type.vars.map((secinfo) => {
      const variable = btf.type(secinfo.type);
      return { type: secinfo.type, offset: offsetOf(variable.name) ?? secinfo.offset, size: secinfo.size };
    });
    // The kernel wants the variables in increasing offset order.
    vars.sort((a, b) => a.offset - b.offset);
    vars.forEach((secinfo, i) => {
      const entry = at + RECORD_HEADER + i * SECINFO_SIZE;
      view.setUint32(entry, secinfo.type, le);
      view.setUint32(entry + 4, secinfo.offset, le);
      view.setUint32(entry + 8, secinfo.size, le);
    });
  }
  return Btf.parse(bytes);
}
