/**
 * `btf MAP`: the map's key and value types as C declarations, with every type they use, like
 * `bpftool btf dump map MAP format c` restricted to the two types. The text compiles as it is
 * (one translation unit, each definition once); `-j` gives each type on its own, so a script can
 * take just the value's C.
 */
import type { Btf } from '../../codec/btf/btf.js';
import type { BpfMap } from '../../map/bpf-map.js';
import type { Command, CommandContext } from '../command.js';
import { mapBtfOf } from '../formatter.js';
import { OperationError, parseMapRef } from '../grammar.js';
import { mapLabel, openMap } from '../map-ref.js';

/** One of the map's types as `btf` describes it. */
interface TypeDescription {
  /** How C spells the type (`struct flow_key`, `u32`), a typedef name for anonymous types, or the section name. */
  readonly type: string;
  /** The BTF kind of the type (`struct`, `typedef`, `datasec`, ...). */
  readonly kind: string;
  /** BTF type id in the map's BTF. */
  readonly id: number;
  /** Bytes of the type: the map's key or value size. */
  readonly size: number;
  /** Declarations that must follow the printed dependencies (a typedef naming an anonymous type). */
  readonly trailer: string;
}

/** A C identifier for the map, for the typedef names anonymous types get. */
function mapIdentifier(map: BpfMap): string {
  const name = map.name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(name) ? name : `map_${map.id}${name ? `_${name}` : ''}`;
}

function describeType(btf: Btf, id: number, typedefName: string, cTypeName: (btf: Btf, id: number) => string): TypeDescription {
  const type = btf.type(id);
  if (type.kind === 'datasec') return { type: type.name, kind: type.kind, id, size: type.size, trailer: '' };
  const size = btf.size(id);
  // Named types are printed by printC; anything else (an anonymous struct, an array, a pointer)
  // gets a typedef so that the type has a name to use in C.
  const named = (type.kind === 'struct' || type.kind === 'union' || type.kind === 'enum' || type.kind === 'enum64' || type.kind === 'typedef' || type.kind === 'int' || type.kind === 'float') && type.name !== '';
  if (named) return { type: cTypeName(btf, id), kind: type.kind, id, size, trailer: '' };
  const spelled = cTypeName(btf, id);
  // Arrays and function pointers put the name inside the declarator: `char name[16]`.
  const declaration = /\[|\(\*\)/.test(spelled) ? spelled.replace(/(\(\*|\s*\[)/, (found) => (found.startsWith('(') ? `(*${typedefName}` : ` ${typedefName}${found.trim()}`)) : `${spelled} ${typedefName}`;
  return { type: typedefName, kind: type.kind, id, size, trailer: `typedef ${declaration};\n` };
}

/** The comment line naming what a type is. */
function describeLine(part: 'key' | 'value', description: TypeDescription | undefined): string {
  if (description === undefined) return `${part}: no BTF type`;
  if (description.kind === 'datasec') return `${part}: section ${description.type} (${description.size} bytes): the variables below`;
  return `${part}: ${description.type} (${description.size} bytes)`;
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  options.end();
  using map = openMap(ref, { readOnly: true });
  const label = mapLabel(map);
  const mapBtf = await mapBtfOf(map);
  if (mapBtf === undefined) {
    const reason = map.info.btfVmlinuxValueTypeId !== 0 ? "its value type is in the kernel's BTF (struct_ops)" : map.info.btfId !== 0 ? 'its BTF names no key or value type' : 'it was created without BTF';
    throw new OperationError(`${label} has no BTF types to print: ${reason}`);
  }
  const { printC, cTypeName } = await import('../../codec/btf/c-printer.js');
  const { btf, keyTypeId, valueTypeId } = mapBtf;
  const prefix = mapIdentifier(map);
  const key = keyTypeId === 0 ? undefined : describeType(btf, keyTypeId, `${prefix}_key_t`, cTypeName);
  const value = valueTypeId === 0 ? undefined : describeType(btf, valueTypeId, `${prefix}_value_t`, cTypeName);
  if (out.json) {
    const part = (description: TypeDescription | undefined) =>
      description === undefined ? null : { type: description.type, kind: description.kind, btf_id: description.id, size: description.size, c: [printC(btf, description.id), description.trailer].filter((text) => text !== '').join('\n') };
    out.document({ key: part(key), value: part(value) });
    return;
  }
  const ids = [key, value].flatMap((description) => (description === undefined ? [] : [description.id]));
  out.line(`/* ${label} (id ${map.id}, btf_id ${map.info.btfId}) */`);
  out.line(`/* ${describeLine('key', key)} */`);
  out.line(`/* ${describeLine('value', value)} */`);
  out.line();
  out.writer.write(printC(btf, ids));
  for (const description of [key, value]) if (description?.trailer) out.writer.write(`\n${description.trailer}`);
}

/** `btf MAP`. */
export const btfCommand: Command = { run };
