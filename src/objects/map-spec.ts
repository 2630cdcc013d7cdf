/**
 * The maps of an object, as specs a user can change before loading: BTF-defined maps from the
 * `.maps` section (`__uint`, `__type`, `__array`, inner maps and initial slots), legacy
 * `struct bpf_map_def` maps from the `maps` section, and the internal maps that hold global data
 * (`.data`, `.rodata`, `.bss`, `.data.*`, `.rodata.*`) and kconfig externs (`.kconfig`).
 */
import type { Btf } from '../codec/btf/btf.js';
import type { BtfType } from '../codec/btf/types.js';
import { MapFlags, MapType, mapTypeName } from '../sys/constants.js';
import type { BpfMap } from '../map/bpf-map.js';
import { ObjectError } from './errors.js';
import { SectionType, SymbolType, type ElfObject } from './elf.js';
import type { StructOpsSpec } from './struct-ops.js';

/** Where a map spec came from. */
export type ObjectMapKind = 'btf' | 'legacy' | 'data' | 'kconfig' | 'struct_ops';

/** How a map is pinned at load: not at all, or by its name under the pin folder (`LIBBPF_PIN_BY_NAME`). */
export type MapPinning = 'none' | 'byName';

/** One initial slot of a map-in-map (an inner map by name) or prog_array (a program by name). */
export interface MapSlot {
  readonly index: number;
  readonly map?: string;
  readonly program?: string;
}

/**
 * A map an object declares. Its fields may be changed before `load()` (sizes, max entries,
 * flags, pinning); `replaceWith` uses an existing map instead of creating one.
 */
export class ObjectMapSpec {
  /** The name the map gets in the kernel (libbpf's: `<object>.rodata` for internal maps). */
  name: string;
  /** Map type number (`MapType`). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Map flags (`MapFlags`). */
  flags: number;
  /** Type-specific extra (bloom filter hashes, arena address). */
  mapExtra: bigint;
  /** NUMA node (with the NUMA_NODE flag). */
  numaNode: number;
  /** How the map is pinned at load. */
  pinning: MapPinning;
  /** BTF type ids of key and value in the object's BTF (0: none). */
  keyTypeId: number;
  valueTypeId: number;
  /** The inner map's shape, for array_of_maps and hash_of_maps. */
  inner: ObjectMapSpec | undefined;
  /** Initial slots: inner maps (map-in-map) or programs (prog_array), by name. */
  slots: MapSlot[];
  /** Initial contents of global data maps (the section's bytes; zeros for .bss). */
  data: Uint8Array | undefined;
  /** An existing map to use instead of creating this one (see `ObjectSpec.replaceMap`). */
  replacement: BpfMap<unknown, unknown> | undefined;
  /** For struct_ops maps: the variable, its kernel struct, members, programs and data. */
  readonly structOps: StructOpsSpec | undefined;
  /** Where the definition came from. */
  readonly kind: ObjectMapKind;
  /** The ELF section (`.maps`, `maps`, `.rodata`, ...). */
  readonly sectionName: string;
  /** Offset of the definition (or data) in its section: what relocations name. */
  readonly sectionOffset: number;

  constructor(init: {
    name: string; kind: ObjectMapKind; sectionName: string; sectionOffset: number; type: number; keySize: number; valueSize: number;
    maxEntries: number; flags?: number; mapExtra?: bigint; numaNode?: number; pinning?: MapPinning; keyTypeId?: number; valueTypeId?: number;
    inner?: ObjectMapSpec; slots?: MapSlot[]; data?: Uint8Array; structOps?: StructOpsSpec;
  }) {
    this.name = init.name;
    this.kind = init.kind;
    this.sectionName = init.sectionName;
    this.sectionOffset = init.sectionOffset;
    this.type = init.type;
    this.keySize = init.keySize;
    this.valueSize = init.valueSize;
    this.maxEntries = init.maxEntries;
    this.flags = init.flags ?? 0;
    this.mapExtra = init.mapExtra ?? 0n;
    this.numaNode = init.numaNode ?? 0;
    this.pinning = init.pinning ?? 'none';
    this.keyTypeId = init.keyTypeId ?? 0;
    this.valueTypeId = init.valueTypeId ?? 0;
    this.inner = init.inner;
    this.slots = init.slots ?? [];
    this.data = init.data;
    this.replacement = undefined;
    this.structOps = init.structOps;
  }

  /** bpftool's name for the map type. */
  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** True for the maps libbpf makes itself (global data, kconfig). */
  get internal(): boolean {
    return this.kind === 'data' || this.kind === 'kconfig';
  }

  /** True for `.rodata` and `.rodata.*` maps (frozen after their initial value is written). */
  get readOnlyData(): boolean {
    return (this.kind === 'data' && this.sectionName.startsWith('.rodata')) || this.kind === 'kconfig';
  }
}

/** `LIBBPF_PIN_BY_NAME`. */
const PIN_BY_NAME = 1;

function skipModifiers(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

/** `__uint(name, N)` is `int (*name)[N]`: a pointer to an array of N. */
function uintField(btf: Btf, typeId: number, map: string, field: string): number {
  const pointer = skipModifiers(btf, typeId);
  if (pointer.kind !== 'ptr') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `field '${field}' is a ${pointer.kind}, expected __uint(${field}, N) (a pointer to an array)`, { map });
  const array = skipModifiers(btf, pointer.type);
  if (array.kind !== 'array') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `field '${field}' points to a ${array.kind}, expected __uint(${field}, N) (a pointer to an array)`, { map });
  return array.length;
}

/** `__type(name, T)` is `T *name`: the pointee's id. */
function typeField(btf: Btf, typeId: number, map: string, field: string): number {
  const pointer = skipModifiers(btf, typeId);
  if (pointer.kind !== 'ptr') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `field '${field}' is a ${pointer.kind}, expected __type(${field}, T) (a pointer)`, { map });
  return pointer.type;
}

interface BtfMapDefinition {
  type: number;
  keySize: number | undefined;
  valueSize: number | undefined;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: MapPinning;
  keyTypeId: number;
  valueTypeId: number;
  inner: ObjectMapSpec | undefined;
  /** Byte offset of the `values` array in the definition, when it has one. */
  valuesOffset: number | undefined;
}

/** Reads one BTF map definition struct (libbpf's `parse_btf_map_def`). */
function parseDefinition(btf: Btf, structId: number, name: string, isInner: boolean): BtfMapDefinition {
  const def = skipModifiers(btf, structId);
  if (def.kind !== 'struct') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `definition is a ${def.kind}, expected a struct`, { map: name });
  const out: BtfMapDefinition = {
    type: 0, keySize: undefined, valueSize: undefined, maxEntries: 0, flags: 0, numaNode: 0, mapExtra: 0n, pinning: 'none',
    keyTypeId: 0, valueTypeId: 0, inner: undefined, valuesOffset: undefined,
  };
  for (const member of def.members) {
    switch (member.name) {
      case 'type': out.type = uintField(btf, member.type, name, 'type'); break;
      case 'max_entries': out.maxEntries = uintField(btf, member.type, name, 'max_entries'); break;
      case 'map_flags': out.flags = uintField(btf, member.type, name, 'map_flags'); break;
      case 'numa_node': out.numaNode = uintField(btf, member.type, name, 'numa_node'); break;
      case 'map_extra': out.mapExtra = BigInt(uintField(btf, member.type, name, 'map_extra')); break;
      case 'key_size': out.keySize = uintField(btf, member.type, name, 'key_size'); break;
      case 'value_size': out.valueSize = uintField(btf, member.type, name, 'value_size'); break;
      case 'key': {
        out.keyTypeId = typeField(btf, member.type, name, 'key');
        const size = btf.size(out.keyTypeId);
        if (out.keySize !== undefined && out.keySize !== size) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `key_size ${out.keySize} differs from the key type's size ${size}`, { map: name });
        out.keySize = size;
        break;
      }
      case 'value': {
        out.valueTypeId = typeField(btf, member.type, name, 'value');
        const size = btf.size(out.valueTypeId);
        if (out.valueSize !== undefined && out.valueSize !== size) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `value_size ${out.valueSize} differs from the value type's size ${size}`, { map: name });
        out.valueSize = size;
        break;
      }
      case 'pinning': {
        if (isInner) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', 'an inner map cannot be pinned', { map: name });
        const pinning = uintField(btf, member.type, name, 'pinning');
        if (pinning !== 0 && pinning !== PIN_BY_NAME) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `pinning ${pinning} is not supported (0 none, 1 LIBBPF_PIN_BY_NAME)`, { map: name });
        out.pinning = pinning === PIN_BY_NAME ? 'byName' : 'none';
        break;
      }
      case 'values': {
        // __array(values, T) is `typeof(T) *values[]`: a zero-length array of pointers to the
        // inner map's definition (map-in-map) or to a function prototype (prog_array).
        if (isInner) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', "an inner map cannot have 'values'", { map: name });
        const array = skipModifiers(btf, member.type);
        if (array.kind !== 'array') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `'values' is a ${array.kind}, expected __array(values, ...)`, { map: name });
        const pointer = skipModifiers(btf, array.type);
        if (pointer.kind !== 'ptr') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', "'values' must hold pointers", { map: name });
        const target = skipModifiers(btf, pointer.type);
        out.valuesOffset = member.bitOffset / 8;
        if (target.kind === 'struct') {
          const inner = parseDefinition(btf, target.id, `${name}.inner`, true);
          out.inner = definitionToSpec(inner, `${name}.inner`, 'btf', '.maps', 0);
        } else if (target.kind !== 'func_proto') {
          throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `'values' points to a ${target.kind}, expected a map definition or a function`, { map: name });
        }
        break;
      }
      default:
        throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `unknown map definition field '${member.name}'`, { map: name });
    }
  }
  if (out.type === 0) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', "the definition has no 'type'", { map: name });
  return out;
}

function definitionToSpec(def: BtfMapDefinition, name: string, kind: ObjectMapKind, sectionName: string, sectionOffset: number): ObjectMapSpec {
  const isMapInMap = def.type === MapType.array_of_maps || def.type === MapType.hash_of_maps;
  return new ObjectMapSpec({
    name, kind, sectionName, sectionOffset,
    type: def.type,
    keySize: def.keySize ?? 0,
    // Maps of maps and prog_array hold 4-byte fds (ids on lookup).
    valueSize: def.valueSize ?? (isMapInMap || def.type === MapType.prog_array ? 4 : 0),
    maxEntries: def.maxEntries,
    flags: def.flags,
    mapExtra: def.mapExtra,
    numaNode: def.numaNode,
    pinning: def.pinning,
    keyTypeId: def.keyTypeId,
    valueTypeId: def.valueTypeId,
    ...(def.inner ? { inner: def.inner } : {}),
  });
}

/** The symbols defined in a section, by name. */
function symbolsIn(elf: ElfObject, sectionIndex: number): Map<string, number> {
  const found = new Map<string, number>();
  for (const symbol of elf.symbols) {
    if (symbol.section === sectionIndex && symbol.name && symbol.type !== SymbolType.SECTION) found.set(symbol.name, symbol.value);
  }
  return found;
}

/** The BTF-defined maps of the `.maps` section, with their initial slots from `.rel.maps`. */
export function parseBtfMaps(elf: ElfObject, btf: Btf | undefined): ObjectMapSpec[] {
  const section = elf.section('.maps');
  if (!section) return [];
  if (!btf) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', 'the object has a .maps section but no .BTF (compile with -g)', { section: '.maps' });
  const [datasec] = btf.typesByName('.maps', 'datasec');
  if (!datasec) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', 'no DATASEC .maps in the BTF', { section: '.maps' });
  const maps: ObjectMapSpec[] = [];
  const withValues: Array<{ spec: ObjectMapSpec; valuesOffset: number; size: number }> = [];
  for (const secinfo of datasec.vars) {
    const variable = btf.type(secinfo.type);
    if (variable.kind !== 'var') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `DATASEC .maps holds a ${variable.kind}, expected variables`, { section: '.maps' });
    const def = parseDefinition(btf, variable.type, variable.name, false);
    const spec = definitionToSpec(def, variable.name, 'btf', '.maps', secinfo.offset);
    maps.push(spec);
    if (def.valuesOffset !== undefined) withValues.push({ spec, valuesOffset: def.valuesOffset, size: secinfo.size });
  }
  // Initial slots: `.values = { [2] = &inner_a }` is a relocation at the slot's address.
  for (const relocation of elf.relocations(section.index)) {
    const owner = withValues.find(({ spec, size }) => relocation.offset >= spec.sectionOffset && relocation.offset < spec.sectionOffset + size);
    if (!owner) continue;
    const slotOffset = relocation.offset - owner.spec.sectionOffset - owner.valuesOffset;
    if (slotOffset < 0 || slotOffset % 8 !== 0) {
      throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `relocation at offset ${relocation.offset} of .maps is not a slot of 'values'`, { map: owner.spec.name, section: '.maps' });
    }
    const index = slotOffset / 8;
    const target = relocation.symbol;
    if (owner.spec.type === MapType.prog_array) {
      if (target.type !== SymbolType.FUNC) throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `slot ${index} names '${target.name}', which is not a program`, { map: owner.spec.name, section: '.maps', symbol: target.name });
      owner.spec.slots.push({ index, program: target.name });
    } else {
      if (target.section !== section.index) throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `slot ${index} names '${target.name}', which is not a map of .maps`, { map: owner.spec.name, section: '.maps', symbol: target.name });
      owner.spec.slots.push({ index, map: target.name });
    }
    if (index >= owner.spec.maxEntries) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `slot ${index} is past max_entries ${owner.spec.maxEntries}`, { map: owner.spec.name });
  }
  return maps;
}

/** `struct bpf_map_def`: type, key_size, value_size, max_entries, map_flags (5 x u32). */
const LEGACY_DEFINITION_SIZE = 20;

/** The legacy `maps` section: `struct bpf_map_def` per symbol (the simple form; no inner maps). */
export function parseLegacyMaps(elf: ElfObject): ObjectMapSpec[] {
  const section = elf.section('maps');
  if (!section || section.type === SectionType.NOBITS) return [];
  const data = elf.data(section);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const maps: ObjectMapSpec[] = [];
  for (const [name, offset] of [...symbolsIn(elf, section.index)].sort((a, b) => a[1] - b[1])) {
    if (offset + LEGACY_DEFINITION_SIZE > data.length) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `definition at offset ${offset} runs past the section`, { map: name, section: 'maps' });
    maps.push(new ObjectMapSpec({
      name, kind: 'legacy', sectionName: 'maps', sectionOffset: offset,
      type: view.getUint32(offset, le),
      keySize: view.getUint32(offset + 4, le),
      valueSize: view.getUint32(offset + 8, le),
      maxEntries: view.getUint32(offset + 12, le),
      flags: view.getUint32(offset + 16, le),
    }));
  }
  return maps;
}

/** True for the sections libbpf turns into global data maps. */
export function isDataSection(name: string): boolean {
  return name === '.data' || name.startsWith('.data.') || name === '.rodata' || name.startsWith('.rodata.') || name === '.bss' || name.startsWith('.bss.');
}

/**
 * libbpf's name for an internal map: as much of the object name as fits before the section name
 * (`obj_basi.rodata`), or, for custom `.data.*`/`.rodata.*` sections, the section name alone,
 * cut to 15 characters; characters the kernel refuses become `_`.
 */
export function internalMapName(objectName: string, sectionName: string): string {
  const NAME_LENGTH = 16;
  let suffixLength = Math.max(7, sectionName.length);
  if (suffixLength >= NAME_LENGTH) suffixLength = NAME_LENGTH - 1;
  const prefixLength = sectionName.indexOf('.', 1) >= 0 ? 0 : Math.min(NAME_LENGTH - suffixLength - 1, objectName.length);
  const name = `${objectName.slice(0, prefixLength)}${sectionName.slice(0, suffixLength)}`;
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** libbpf's object name: the file's base name up to its first `.`, at most 15 characters. */
export function objectNameOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).slice(0, 15);
  const dot = base.indexOf('.');
  return dot < 0 ? base : base.slice(0, dot);
}

/** The global data maps: one array of one entry per data section, with the section's bytes. */
export function parseDataMaps(elf: ElfObject, btf: Btf | undefined, objectName: string): ObjectMapSpec[] {
  const maps: ObjectMapSpec[] = [];
  for (const section of elf.sections) {
    if (!isDataSection(section.name) || section.size === 0) continue;
    const datasec = btf?.typesByName(section.name, 'datasec')[0];
    const readOnly = section.name.startsWith('.rodata');
    // Every data map is mmapable, as libbpf 1.1 (Debian's bpftool) makes them, so a map pinned by
    // `bpftool prog loadall` and one made here agree. (Newer libbpf leaves sections holding only
    // static variables unmappable.)
    const data = new Uint8Array(section.size);
    if (section.type !== SectionType.NOBITS) data.set(elf.data(section));
    maps.push(new ObjectMapSpec({
      name: internalMapName(objectName, section.name),
      kind: 'data', sectionName: section.name, sectionOffset: 0,
      type: MapType.array, keySize: 4, valueSize: section.size, maxEntries: 1,
      flags: (readOnly ? MapFlags.RDONLY_PROG : 0) | MapFlags.MMAPABLE,
      valueTypeId: datasec?.id ?? 0,
      data,
    }));
  }
  return maps;
}
