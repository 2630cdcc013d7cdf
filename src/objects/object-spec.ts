/**
 * `ObjectSpec`: a BPF ELF object read into something to inspect and change before loading —
 * its maps, programs, global variables, license and kernel version — the way cilium/ebpf's
 * `CollectionSpec` is. `BpfObject.open` makes one; `spec.load()` puts it into the kernel.
 */
import { readFileBounded } from '../codec/btf/sources.js';
import { Btf } from '../codec/btf/btf.js';
import { installedBtfCodec as btfCodec } from '../codec/btf/codec-support.js';
import { parseBtfExt, type BtfExt } from './btf-ext.js';
import { argumentError } from '../sys/errors.js';
import { MapFlags, MapType } from '../sys/constants.js';
import type { BpfMap } from '../map/bpf-map.js';
import { ElfObject, SHN_UNDEF, SHN_LORESERVE, SectionFlags, SectionType, SymbolBinding, SymbolType, type ElfSymbol } from './elf.js';
import { ObjectError } from './errors.js';
import { ObjectMapSpec, internalMapName, isDataSection, objectNameOf, parseBtfMaps, parseDataMaps, parseLegacyMaps } from './map-spec.js';
import { INSTRUCTION_SIZE, OPCODE_CALL, OPCODE_LD_IMM64, ProgramSpec, type CodeFunction, type CodeRelocation, type CodeSection } from './program-spec.js';
import { sectionDefinition } from './section-names.js';
import { fixupObjectBtf } from './btf-fixup.js';
import { layoutKconfig, type KconfigExtern } from './kconfig.js';
import type { BpfObject, LoadOptions } from './object.js';
import { loadObject } from './load.js';
import { parseStructOps } from './struct-ops.js';

/** How to read an object. */
export interface OpenOptions {
  /**
   * The object's name, which prefixes internal map names (`<name>.rodata`); by default the
   * file's base name up to its first `.` (libbpf's rule), or `'object'` for bytes.
   */
  readonly name?: string;
}

/** A global variable of one of the object's data sections. */
export interface VariableSpec {
  readonly name: string;
  /** The key of its data map in `spec.maps` (the section name: `'.rodata'`, `'.bss'`). */
  readonly map: string;
  /** Byte offset in the section. */
  readonly offset: number;
  readonly size: number;
  /** The variable's C type id in `spec.btf`. */
  readonly typeId: number;
  /** True for `.rodata` variables (`const volatile`), which the program reads as constants. */
  readonly constant: boolean;
}

function readLicense(elf: ElfObject): string {
  const section = elf.section('license');
  if (!section) return '';
  const data = elf.data(section);
  const end = data.indexOf(0);
  return Buffer.from(data.subarray(0, end < 0 ? data.length : end)).toString('latin1');
}

function readVersion(elf: ElfObject): number {
  const section = elf.section('version');
  if (!section || section.size !== 4) return 0;
  const data = elf.data(section);
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, elf.littleEndian);
}

/** An editable description of a BPF object. */
export class ObjectSpec {
  /** The object's name (internal maps are named after it). */
  readonly name: string;
  /** The `license` section (`'GPL'`, `'Dual BSD/GPL'`), `''` when none. */
  readonly license: string;
  /** The `version` section, 0 when none. */
  readonly kernelVersion: number;
  /** The object's BTF, with DATASEC sizes and offsets filled in; undefined without `-g`. */
  readonly btf: Btf | undefined;
  /** @internal The object's BTF as clang wrote it (externs keep their declared types). */
  readonly sourceBtf: Btf | undefined;
  /** The object's `.BTF.ext` (func_info, line_info, CO-RE relocations), when it has one. */
  readonly btfExt: BtfExt | undefined;
  /**
   * Maps by name: BTF-defined and legacy maps by their variable name, data maps by their section
   * name (`'.rodata'`, `'.bss'`, `'.data.custom'`), the kconfig map as `'.kconfig'`.
   */
  readonly maps: Map<string, ObjectMapSpec>;
  /** Entry programs by C function name. */
  readonly programs: Map<string, ProgramSpec>;
  /** Global variables by name. */
  readonly variables: Map<string, VariableSpec>;
  /** kconfig externs and the `.kconfig` map's size. */
  readonly kconfig: { readonly externs: readonly KconfigExtern[]; readonly size: number } | undefined;
  /** @internal The executable sections, by section index. */
  readonly code: Map<number, CodeSection>;
  /** @internal The parsed ELF file. */
  readonly elf: ElfObject;

  /** Use `BpfObject.open`. */
  constructor(bytes: Uint8Array, options: OpenOptions & { defaultName: string }) {
    const elf = new ElfObject(bytes);
    this.elf = elf;
    this.name = options.name ?? options.defaultName;
    this.license = readLicense(elf);
    this.kernelVersion = readVersion(elf);
    const btfSection = elf.section('.BTF');
    const rawBtf = btfSection ? Btf.parse(elf.data(btfSection)) : undefined;

    // kconfig externs: the VARs of the `.kconfig` DATASEC (no ELF section backs it).
    const kconfigSec = rawBtf?.typesByName('.kconfig', 'datasec')[0];
    const weak = new Set(elf.symbols.filter((s) => s.section === SHN_UNDEF && s.binding === SymbolBinding.WEAK).map((s) => s.name));
    this.kconfig = kconfigSec && rawBtf ? layoutKconfig(rawBtf, kconfigSec.vars.map((v) => v.type), weak) : undefined;
    this.sourceBtf = rawBtf;
    this.btf = rawBtf ? fixupObjectBtf(rawBtf, elf, this.kconfig) : undefined;
    this.maps = new Map();
    for (const map of [...parseBtfMaps(elf, this.btf), ...parseLegacyMaps(elf)]) this.maps.set(map.name, map);
    for (const map of parseDataMaps(elf, this.btf, this.name)) this.maps.set(map.sectionName, map);
    for (const { spec, sectionName, sectionOffset, flags, size } of parseStructOps(elf, this.btf)) {
      this.maps.set(spec.variable, new ObjectMapSpec({
        name: spec.variable, kind: 'struct_ops', sectionName, sectionOffset,
        type: MapType.struct_ops, keySize: 4, valueSize: size, maxEntries: 1, flags, structOps: spec,
      }));
    }
    if (this.kconfig && this.kconfig.size > 0) {
      this.maps.set('.kconfig', new ObjectMapSpec({
        name: internalMapName(this.name, '.kconfig'), kind: 'kconfig', sectionName: '.kconfig', sectionOffset: 0,
        type: MapType.array, keySize: 4, valueSize: this.kconfig.size, maxEntries: 1,
        flags: MapFlags.RDONLY_PROG | MapFlags.MMAPABLE, valueTypeId: kconfigSec?.id ?? 0,
      }));
    }
    this.variables = this.#readVariables();
    this.code = this.#readCode();
    const extSection = elf.section('.BTF.ext');
    this.btfExt = extSection && this.btf
      ? parseBtfExt(elf.data(extSection), this.btf, {
          sectionInstructions: (name) => {
            const section = elf.section(name);
            return section ? section.size / INSTRUCTION_SIZE : undefined;
          },
        })
      : undefined;
    this.programs = new Map();
    for (const section of this.code.values()) {
      if (section.name === '.text') continue;
      const definition = sectionDefinition(section.name);
      for (const fn of section.functions) {
        this.programs.set(fn.name, new ProgramSpec({
          code: fn,
          type: definition?.type ?? 0,
          attachType: definition?.hasAttachType ? definition.attachType : undefined,
          flags: definition?.programFlags ?? 0,
          attachTarget: definition?.target ?? '',
          attachBtf: definition?.attachBtf ?? false,
          license: this.license,
          kernelVersion: this.kernelVersion,
        }));
      }
    }
  }

  #readVariables(): Map<string, VariableSpec> {
    const variables = new Map<string, VariableSpec>();
    if (!this.btf) return variables;
    for (const [key, map] of this.maps) {
      if (map.kind !== 'data' || !map.valueTypeId) continue;
      const datasec = this.btf.typeOfKind(map.valueTypeId, 'datasec');
      for (const secinfo of datasec.vars) {
        const variable = this.btf.type(secinfo.type);
        if (variable.kind !== 'var') continue;
        variables.set(variable.name, {
          name: variable.name, map: key, offset: secinfo.offset, size: secinfo.size, typeId: variable.type,
          constant: map.sectionName.startsWith('.rodata'),
        });
      }
    }
    return variables;
  }

  #readCode(): Map<number, CodeSection> {
    const elf = this.elf;
    const code = new Map<number, CodeSection>();
    for (const section of elf.sections) {
      if (section.type !== SectionType.PROGBITS || (section.flags & SectionFlags.EXECINSTR) === 0 || section.size === 0) continue;
      const codeSection: CodeSection = {
        index: section.index, name: section.name, instructions: elf.data(section).slice(), functions: [], relocations: new Map(),
      };
      const symbols = elf.symbols
        .filter((s) => s.section === section.index && s.type === SymbolType.FUNC)
        .sort((a, b) => a.value - b.value);
      for (const symbol of symbols) {
        if (symbol.value % INSTRUCTION_SIZE || symbol.size % INSTRUCTION_SIZE || symbol.value + symbol.size > section.size) {
          throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', `function '${symbol.name}' at offset ${symbol.value} (${symbol.size} bytes) is not whole instructions inside the section`, { section: section.name });
        }
        codeSection.functions.push({ name: symbol.name, section: codeSection, start: symbol.value / INSTRUCTION_SIZE, count: symbol.size / INSTRUCTION_SIZE });
      }
      code.set(section.index, codeSection);
    }
    for (const section of code.values()) {
      for (const relocation of elf.relocations(section.index)) {
        const index = relocation.offset / INSTRUCTION_SIZE;
        section.relocations.set(index, this.#classify(section, index, relocation.symbol, code));
      }
    }
    return code;
  }

  /** What a relocated instruction refers to (libbpf's `bpf_program__record_reloc`). */
  #classify(section: CodeSection, index: number, symbol: ElfSymbol, code: Map<number, CodeSection>): CodeRelocation {
    const opcode = section.instructions[index * INSTRUCTION_SIZE];
    const unsupported = (reason: string): CodeRelocation => ({ kind: 'unsupported', reason, symbol: symbol.name });
    if (opcode !== OPCODE_CALL && opcode !== OPCODE_LD_IMM64) {
      return unsupported(`relocation against '${symbol.name}' on an instruction with opcode 0x${(opcode ?? 0).toString(16)} (only calls and 64-bit loads are relocated)`);
    }
    if (symbol.section === SHN_UNDEF) {
      if (this.kconfig?.externs.some((e) => e.name === symbol.name)) {
        return opcode === OPCODE_LD_IMM64 ? { kind: 'kconfig', name: symbol.name } : unsupported(`kconfig extern '${symbol.name}' called as a function`);
      }
      return { kind: 'ksym', name: symbol.name, call: opcode === OPCODE_CALL, weak: symbol.binding === SymbolBinding.WEAK };
    }
    if (symbol.section >= SHN_LORESERVE) return unsupported(`relocation against '${symbol.name}' in special section 0x${symbol.section.toString(16)} (an uninitialised global?)`);
    if (code.has(symbol.section)) return opcode === OPCODE_CALL ? { kind: 'call', symbol } : { kind: 'func', symbol };
    if (opcode === OPCODE_CALL) return unsupported(`call to '${symbol.name}', which is not in an executable section`);
    const target = this.elf.sectionAt(symbol.section);
    if (!target) return unsupported(`relocation against '${symbol.name}' in missing section ${symbol.section}`);
    if (target.name === '.maps' || target.name === 'maps') {
      const map = [...this.maps.values()].find((m) => m.sectionName === target.name && m.sectionOffset === symbol.value);
      return map ? { kind: 'map', map: map.name } : unsupported(`no map at offset ${symbol.value} of ${target.name} for '${symbol.name}'`);
    }
    if (target.name.startsWith('.addr_space.')) {
      return unsupported(`'${symbol.name}' is an __arena global (section ${target.name}): arena globals are not supported yet (only arena memory from bpf_arena_alloc_pages is)`);
    }
    if (isDataSection(target.name)) {
      return this.maps.has(target.name) ? { kind: 'data', map: target.name, offset: symbol.value } : unsupported(`data section ${target.name} is empty`);
    }
    return unsupported(`relocation against '${symbol.name}' in section '${target.name}', which is neither code, maps nor data`);
  }

  /** The entry program named `name`. @throws ObjectError (`ERR_BPFMAP_OBJECT_NAME`) when there is none. */
  program(name: string): ProgramSpec {
    const program = this.programs.get(name);
    if (!program) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no program named '${name}' (programs: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return program;
  }

  /** The map named `name` (variable name, or section name for data maps). @throws ObjectError when there is none. */
  map(name: string): ObjectMapSpec {
    const map = this.maps.get(name) ?? [...this.maps.values()].find((m) => m.name === name);
    if (!map) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no map named '${name}' (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return map;
  }

  #variable(name: string): VariableSpec {
    const variable = this.variables.get(name);
    if (!variable) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no global variable named '${name}' (variables: ${[...this.variables.keys()].join(', ') || 'none'})`);
    return variable;
  }

  /**
   * Sets the initial value of a global variable before load — a `.rodata` constant
   * (`const volatile`), which the verifier then treats as known, or a `.data`/`.bss` variable.
   * The value is encoded through the variable's BTF type (numbers, bigints, objects for structs,
   * arrays, strings for char arrays).
   * @throws ObjectError (`ERR_BPFMAP_OBJECT_NAME`) for an unknown name; TypeError/RangeError when
   *   the value does not fit the type (nothing is written then).
   *
   * @example
   * const spec = BpfObject.open('filter.bpf.o');
   * spec.setConstant('target_pid', process.pid);
   * using object = spec.load();
   */
  setConstant(name: string, value: unknown): this {
    const variable = this.#variable(name);
    const map = this.maps.get(variable.map);
    if (!map?.data || !this.btf) throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', `variable '${name}' has no initial data to set`);
    btfCodec(this.btf, variable.typeId).encode(value, map.data, variable.offset);
    return this;
  }

  /** The initial value of a global variable, decoded through its BTF type. */
  constant(name: string): unknown {
    const variable = this.#variable(name);
    const map = this.maps.get(variable.map);
    if (!map?.data || !this.btf) throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', `variable '${name}' has no initial data`);
    return btfCodec(this.btf, variable.typeId).decode(map.data, variable.offset);
  }

  /**
   * Uses an existing map instead of creating the named one at load (the programs then share
   * it). At load its type, key and value sizes and max entries must match the spec's.
   */
  replaceMap(name: string, map: BpfMap<unknown, unknown>): this {
    if (map === null || typeof map !== 'object' || typeof (map as { fd?: unknown }).fd !== 'number') {
      throw argumentError(TypeError, 'ERR_BPFMAP_OBJECT_MAP', `replaceMap('${name}'): expected a BpfMap`);
    }
    this.map(name).replacement = map;
    return this;
  }

  /**
   * Loads the object: creates (or reuses) its maps, relocates and loads its programs. See
   * `LoadOptions` for pinning, logs and program selection.
   */
  load(options: LoadOptions = {}): BpfObject {
    return loadObject(this, options);
  }
}

/** Reads an object from a path or its bytes. */
export function openObject(source: string | Uint8Array, options: OpenOptions = {}): ObjectSpec {
  if (typeof source === 'string') {
    if (source === '') throw argumentError(TypeError, 'ERR_BPFMAP_PATH', 'object path must be a non-empty string');
    return new ObjectSpec(readFileBounded(source), { ...options, defaultName: objectNameOf(source) });
  }
  if (!(source instanceof Uint8Array)) throw argumentError(TypeError, 'ERR_BPFMAP_OBJECT_ELF', 'BpfObject.open takes a path or the object\'s bytes (a Uint8Array)');
  return new ObjectSpec(source, { ...options, defaultName: 'object' });
}
