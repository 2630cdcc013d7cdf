/**
 * struct_ops: kernel callback tables (`struct tcp_congestion_ops`, `struct sched_ext_ops`, ...)
 * implemented by BPF programs. An object declares one as a variable of the kernel's struct type
 * in `SEC(".struct_ops")` or `SEC(".struct_ops.link")`, its function-pointer members pointing at
 * `SEC("struct_ops/...")` programs and its data members (`.name`, `.flags`) initialised.
 *
 * As libbpf does (`bpf_object__init_struct_ops`, `bpf_map__init_kern_struct_ops`): the variable
 * becomes a struct_ops map whose one value is the kernel's `struct bpf_struct_ops_<name>`
 * (found in vmlinux BTF, its id passed as `btf_vmlinux_value_type_id`); data members are copied
 * into its `data` member by name; each program is loaded with `attach_btf_id` = the kernel
 * struct's id and `expected_attach_type` = the member's index, and its fd goes into the member's
 * slot when the value is written. Writing the value registers a `.struct_ops` map; a
 * `.struct_ops.link` map (`BPF_F_LINK`) is registered by a bpf_link, which unregisters on close.
 */
import type { Btf } from '../codec/btf/btf.js';
import type { BtfType } from '../codec/btf/types.js';
import { installedBtfCodec as btfCodec } from '../codec/btf/codec-support.js';
import { kernelBtf } from '../codec/btf/sources.js';
import { MapFlags, MapType } from '../sys/constants.js';
import { ObjectError } from './errors.js';
import { SymbolType, type ElfObject } from './elf.js';

/** The sections libbpf reads struct_ops variables from, and whether they register through a link. */
const STRUCT_OPS_SECTIONS: ReadonlyMap<string, boolean> = new Map([['.struct_ops', false], ['.struct_ops.link', true]]);

/** One member of a struct_ops variable as the object declares it. */
export interface StructOpsMember {
  readonly name: string;
  /** Byte offset in the object's struct. */
  readonly offset: number;
  /** The member's type id in the object's BTF. */
  readonly typeId: number;
  /** The program its function pointer names, when it is one that is set. */
  readonly program?: string;
}

/**
 * A struct_ops variable of an object: the kernel struct it implements, its members, the
 * programs they name, and its data (editable before load with `setField`).
 */
export class StructOpsSpec {
  /** The C variable's name (also the map's name). */
  readonly variable: string;
  /** The kernel struct it implements (`'tcp_congestion_ops'`). */
  readonly typeName: string;
  /** The struct's id in the object's BTF. */
  readonly typeId: number;
  /** True for `SEC(".struct_ops.link")`: registered through a bpf_link (`BPF_F_LINK`). */
  readonly link: boolean;
  readonly members: readonly StructOpsMember[];
  /** The struct's bytes as initialised in the object (function pointers left zero). */
  readonly data: Uint8Array;
  readonly #btf: Btf;

  /** @internal Made by `parseStructOps`. */
  constructor(init: { variable: string; typeName: string; typeId: number; link: boolean; members: StructOpsMember[]; data: Uint8Array; btf: Btf }) {
    this.variable = init.variable;
    this.typeName = init.typeName;
    this.typeId = init.typeId;
    this.link = init.link;
    this.members = init.members;
    this.data = init.data;
    this.#btf = init.btf;
  }

  /** Programs by member name. */
  get programs(): Map<string, string> {
    return new Map(this.members.filter((m) => m.program !== undefined).map((m) => [m.name, m.program as string]));
  }

  /**
   * Sets a data member before load, encoded through its BTF type (a string for `char name[16]`).
   * @throws ObjectError `ERR_BPFMAP_OBJECT_NAME` for an unknown member, `ERR_BPFMAP_OBJECT_VALUE`
   *   for a function-pointer member (set those in C).
   *
   * @example
   * spec.map('my_ca').structOps!.setField('name', `ca_${process.pid}`);
   */
  setField(name: string, value: unknown): this {
    const member = this.members.find((m) => m.name === name);
    if (!member) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `struct ${this.typeName} has no member '${name}' (members: ${this.members.map((m) => m.name).join(', ')})`, { map: this.variable });
    if (this.#btf.resolve(member.typeId).kind === 'ptr') throw new ObjectError('ERR_BPFMAP_OBJECT_VALUE', `member '${name}' is a pointer: programs are set in the object's C source`, { map: this.variable });
    btfCodec(this.#btf, member.typeId).encode(value, this.data, member.offset);
    return this;
  }

  /** A data member's current value, decoded through its BTF type. */
  field(name: string): unknown {
    const member = this.members.find((m) => m.name === name);
    if (!member) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `struct ${this.typeName} has no member '${name}'`, { map: this.variable });
    return btfCodec(this.#btf, member.typeId).decode(this.data, member.offset);
  }
}

/** A struct_ops variable found in an object: its spec, where it sits, and the map's shape. */
export interface ParsedStructOps {
  readonly spec: StructOpsSpec;
  readonly sectionName: string;
  readonly sectionOffset: number;
  readonly flags: number;
  /** The object's struct size (the kernel's value size replaces it at load). */
  readonly size: number;
}

/** The struct_ops variables of `.struct_ops` and `.struct_ops.link`, with the programs their members name. */
export function parseStructOps(elf: ElfObject, btf: Btf | undefined): ParsedStructOps[] {
  const found: ParsedStructOps[] = [];
  for (const [sectionName, link] of STRUCT_OPS_SECTIONS) {
    const section = elf.section(sectionName);
    if (!section) continue;
    if (!btf) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `the object has a ${sectionName} section but no .BTF (compile with -g)`, { section: sectionName });
    const [datasec] = btf.typesByName(sectionName, 'datasec');
    if (!datasec) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `no DATASEC ${sectionName} in the BTF`, { section: sectionName });
    const bytes = elf.data(section);
    const relocations = elf.relocations(section.index);
    for (const secinfo of datasec.vars) {
      const variable = btf.type(secinfo.type);
      if (variable.kind !== 'var') continue;
      const struct = btf.resolve(variable.type);
      if (struct.kind !== 'struct') throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `struct_ops variable '${variable.name}' is a ${struct.kind}, expected a struct of the kernel's`, { map: variable.name, section: sectionName });
      if (secinfo.offset + struct.size > bytes.length) throw new ObjectError('ERR_BPFMAP_OBJECT_MAP', `struct_ops variable '${variable.name}' runs past its section`, { map: variable.name, section: sectionName });
      const programAt = new Map<number, string>();
      for (const relocation of relocations) {
        const offset = relocation.offset - secinfo.offset;
        if (offset < 0 || offset >= struct.size) continue;
        if (relocation.symbol.type !== SymbolType.FUNC) {
          throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `member at offset ${offset} of '${variable.name}' points to '${relocation.symbol.name}', which is not a program`, { map: variable.name, section: sectionName, symbol: relocation.symbol.name });
        }
        programAt.set(offset, relocation.symbol.name);
      }
      const members: StructOpsMember[] = struct.members.map((member) => {
        const offset = member.bitOffset / 8;
        const program = programAt.get(offset);
        if (program !== undefined) {
          const pointer = btf.resolve(member.type);
          if (pointer.kind !== 'ptr' || btf.resolve(pointer.type).kind !== 'func_proto') {
            throw new ObjectError('ERR_BPFMAP_OBJECT_RELOCATION', `member '${member.name}' of '${variable.name}' names program '${program}' but is not a function pointer`, { map: variable.name, section: sectionName, symbol: program });
          }
        }
        return { name: member.name, offset, typeId: member.type, ...(program !== undefined ? { program } : {}) };
      });
      found.push({
        spec: new StructOpsSpec({
          variable: variable.name, typeName: struct.name, typeId: struct.id, link, members, btf,
          data: bytes.slice(secinfo.offset, secinfo.offset + struct.size),
        }),
        sectionName, sectionOffset: secinfo.offset, size: struct.size,
        flags: link ? MapFlags.LINK : 0,
      });
    }
  }
  return found;
}

/** A struct_ops value laid out for the running kernel. */
export interface StructOpsLayout {
  /** The kernel struct's id in vmlinux BTF (programs' `attach_btf_id`). */
  readonly kernelTypeId: number;
  /** `bpf_struct_ops_<name>`'s id (the map's `btf_vmlinux_value_type_id`). */
  readonly valueTypeId: number;
  /** The value's bytes with every program slot zero. */
  readonly value: Uint8Array;
  /** Program slots: byte offset in the value, program name, and the kernel member's index (the program's expected attach type). */
  readonly slots: readonly { readonly offset: number; readonly program: string; readonly member: string; readonly memberIndex: number }[];
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/**
 * Lays out a struct_ops variable as the kernel's value type: data members copied by name (their
 * sizes must agree), program slots found, members the kernel lacks refused unless zero.
 * @throws ObjectError `ERR_BPFMAP_OBJECT_KSYM` when the kernel has no such struct_ops type.
 */
export function layoutStructOps(spec: StructOpsSpec, objectBtf: Btf, kernel: Btf = kernelBtf()): StructOpsLayout {
  const where = { map: spec.variable };
  const [kernelType] = kernel.typesByName(spec.typeName, 'struct');
  const [valueType] = kernel.typesByName(`bpf_struct_ops_${spec.typeName}`, 'struct');
  if (!kernelType || !valueType) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `the kernel has no struct_ops type '${spec.typeName}' (no struct bpf_struct_ops_${spec.typeName} in vmlinux BTF; struct_ops types of modules are not supported yet)`, { ...where, symbol: spec.typeName });
  }
  const dataMember = valueType.members.find((m) => m.name === 'data');
  if (!dataMember) throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `struct bpf_struct_ops_${spec.typeName} has no 'data' member`, where);
  const dataOffset = dataMember.bitOffset / 8;
  const value = new Uint8Array(valueType.size);
  const slots: { offset: number; program: string; member: string; memberIndex: number }[] = [];
  for (const member of spec.members) {
    const memberIndex = kernelType.members.findIndex((m) => m.name === member.name);
    const localSize = objectBtf.size(member.typeId);
    const bytes = spec.data.subarray(member.offset, member.offset + localSize);
    if (memberIndex < 0) {
      if (member.program === undefined && isZero(bytes)) continue;
      throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `struct ${spec.typeName} of this kernel has no member '${member.name}'`, { ...where, symbol: member.name });
    }
    const kernelMember = kernelType.members[memberIndex] as (typeof kernelType.members)[number];
    if (kernelMember.bitfieldSize || kernelMember.bitOffset % 8) throw new ObjectError('ERR_BPFMAP_OBJECT_VALUE', `member '${member.name}' is a bitfield in the kernel, which struct_ops values cannot set`, where);
    const offset = dataOffset + kernelMember.bitOffset / 8;
    const kernelMemberType: BtfType = kernel.resolve(kernelMember.type);
    if (member.program !== undefined) {
      if (kernelMemberType.kind !== 'ptr' || kernel.resolve(kernelMemberType.type).kind !== 'func_proto') {
        throw new ObjectError('ERR_BPFMAP_OBJECT_VALUE', `member '${member.name}' names program '${member.program}', but it is not a function pointer in the kernel's struct ${spec.typeName}`, where);
      }
      slots.push({ offset, program: member.program, member: member.name, memberIndex });
      continue;
    }
    if (objectBtf.resolve(member.typeId).kind === 'ptr') {
      if (isZero(bytes)) continue;
      throw new ObjectError('ERR_BPFMAP_OBJECT_VALUE', `pointer member '${member.name}' holds something other than a program`, where);
    }
    const kernelSize = kernel.size(kernelMember.type);
    if (kernelSize !== localSize) {
      throw new ObjectError('ERR_BPFMAP_OBJECT_VALUE', `member '${member.name}' is ${localSize} bytes in the object but ${kernelSize} in the kernel's struct ${spec.typeName}`, where);
    }
    value.set(bytes, offset);
  }
  return { kernelTypeId: kernelType.id, valueTypeId: valueType.id, value, slots };
}

/** True for a struct_ops map spec type. */
export function isStructOpsType(type: number): boolean {
  return type === MapType.struct_ops;
}
