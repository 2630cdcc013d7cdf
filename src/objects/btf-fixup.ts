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
import { SymbolType } from './elf.js';
import type { KconfigExtern } from './kconfig.js';

const RECORD_HEADER = 12;
const SECINFO_SIZE = 12;
/** `BTF_VAR_GLOBAL_ALLOCATED`. */
const VAR_GLOBAL_ALLOCATED = 1;
/** `BTF_VAR_GLOBAL_EXTERN`. */
const VAR_GLOBAL_EXTERN = 2;

/**
 * A copy of the object's BTF with DATASEC sizes and variable offsets filled in and sorted by
 * offset, and extern variables made allocated (the kernel accepts no extern linkage).
 */
export function fixupObjectBtf(btf: Btf, elf: ElfObject, kconfig: { externs: readonly KconfigExtern[]; size: number } | undefined): Btf {
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
  for (const type of btf.types()) {
    if (type.kind === 'var' && type.linkage === VAR_GLOBAL_EXTERN) {
      view.setUint32(btf.recordOffset(type.id) + RECORD_HEADER, VAR_GLOBAL_ALLOCATED, le);
    }
    if (type.kind !== 'datasec') continue;
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
