/**
 * Prints BTF types as C declarations (like `bpftool btf dump ... format c`, for one type and what
 * it depends on): forward declarations for every named struct/union, then definitions in
 * dependency order, then the requested type. Bitfields, anonymous members, function pointers,
 * qualifiers and packed structs are printed; padding members are not (offsets follow C's rules).
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfComposite, BtfType } from './types.js';

const MAX_DEPTH = 64;

/**
 * C source declaring `typeIds` and everything they use.
 * @example
 * console.log(printC(btf, [btf.typeByName('value', 'struct').id]));
 */
/**
 * A BTF name as a C identifier. Function-local statics are named `func.var` in BTF
 * (`reserve_buf.zero`); like bpftool's skeletons, which turn them into `reserve_buf_zero`, every
 * character C does not allow in an identifier becomes `_`.
 */
function cIdentifier(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

export function printC(btf: Btf, typeIds: number | readonly number[]): string {
  const printer = new CPrinter(btf);
  for (const id of typeof typeIds === 'number' ? [typeIds] : typeIds) printer.define(id, 0);
  return printer.output();
}

/**
 * How type `typeId` is spelled in C where a type is expected (`sizeof(...)`, a cast):
 * `struct flow_key`, `u32`, `char [16]`, `struct inner *`. Anonymous structs, unions and enums
 * are spelled with their bodies. Pair with `printC` for the declarations the name needs.
 * @example
 * const c = `${printC(btf, id)}_Static_assert(sizeof(${cTypeName(btf, id)}) == 8, "");`;
 */
export function cTypeName(btf: Btf, typeId: number): string {
  return new CPrinter(btf).typeName(typeId);
}

class CPrinter {
  private readonly defined = new Set<number>();
  private readonly forwards = new Set<string>();
  private readonly definitions: string[] = [];

  constructor(private readonly btf: Btf) {}

  output(): string {
    const forwards = [...this.forwards].map((f) => `${f};\n`).join('');
    return `${forwards}${forwards ? '\n' : ''}${this.definitions.join('\n')}`;
  }

  /** The type as a C type name (an abstract declarator: the declaration of no name). */
  typeName(id: number): string {
    return this.declare(id, '', '').replace(/ $/, '');
  }

  /** Emits the definitions a type needs, then its own (named types only). */
  define(id: number, depth: number): void {
    if (this.defined.has(id)) return;
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', 'types nest too deeply to print', { typeId: id });
    this.defined.add(id);
    const type = this.btf.type(id);
    this.dependencies(type, depth);
    switch (type.kind) {
      case 'struct': case 'union':
        if (type.name) this.definitions.push(`${this.composite(type, '', depth + 1)};\n`);
        break;
      case 'enum': case 'enum64':
        if (type.name) this.definitions.push(`${this.enumeration(type)};\n`);
        break;
      case 'typedef':
        this.definitions.push(`typedef ${this.declare(type.type, type.name, '')};\n`);
        break;
      case 'var':
        this.definitions.push(`${this.declare(type.type, cIdentifier(type.name), '')};\n`);
        break;
      case 'func':
        this.definitions.push(`${this.declare(type.type, type.name, '')};\n`);
        break;
      default:
        break;
    }
  }

  /** Named types this one uses: by value they are defined first; behind pointers, forward-declared. */
  private dependencies(type: BtfType, depth: number): void {
    // Anonymous types are walked here rather than through define(), so the bound is needed here too.
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', 'types nest too deeply to print', { typeId: type.id });
    const use = (id: number, byValue: boolean): void => {
      const target = this.btf.type(id);
      if ((target.kind === 'struct' || target.kind === 'union') && target.name) {
        this.forwards.add(`${target.kind} ${target.name}`);
        if (!byValue) {
          this.pending.push(id);
          return;
        }
      }
      if (target.kind === 'fwd') this.forwards.add(`${target.union ? 'union' : 'struct'} ${target.name}`);
      if (target.name && target.kind !== 'int' && target.kind !== 'float') this.define(id, depth + 1);
      else this.dependencies(target, depth + 1);
    };
    switch (type.kind) {
      case 'ptr': use(type.type, false); break;
      case 'array': use(type.type, true); break;
      case 'struct': case 'union': for (const m of type.members) use(m.type, true); break;
      case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'var': use(type.type, true); break;
      case 'func': use(type.type, true); break;
      case 'func_proto': use(type.returnType, true); for (const p of type.params) if (p.type) use(p.type, true); break;
      case 'datasec': for (const v of type.vars) use(v.type, true); break;
      default: break;
    }
    if (depth === 0) this.flushPending();
  }

  private pending: number[] = [];

  private flushPending(): void {
    while (this.pending.length) this.define(this.pending.shift() as number, 1);
  }

  private enumeration(type: Extract<BtfType, { kind: 'enum' | 'enum64' }>): string {
    const values = type.values.map((v) => `\t${v.name} = ${String(v.value)}${type.kind === 'enum64' ? 'ULL' : ''},\n`).join('');
    const packed = type.size < 4 ? ' __attribute__((packed))' : '';
    return `enum ${type.name}${type.name ? ' ' : ''}{\n${values}}${packed}`;
  }

  /** `depth` carries the nesting across anonymous members, which a self-containing anonymous type would make endless. */
  private composite(type: BtfComposite, indent: string, depth: number): string {
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', 'anonymous types nest too deeply to print', { typeId: type.id });
    const inner = `${indent}\t`;
    const lines = type.members.map((m) => {
      const bits = m.bitfieldSize || this.intBitfield(m.type);
      return `${inner}${this.declare(m.type, m.name, inner, depth + 1)}${bits ? ` : ${bits}` : ''};\n`;
    });
    let maxAlign = 1;
    for (const m of type.members) maxAlign = Math.max(maxAlign, this.btf.alignment(m.type));
    const packed = this.btf.alignment(type.id) === 1 && maxAlign > 1 ? ' __attribute__((packed))' : '';
    return `${type.kind} ${type.name}${type.name ? ' ' : ''}{\n${lines.join('')}${indent}}${packed}`;
  }

  /** Old-style (no kind_flag) bitfield width from an int with fewer bits than its storage. */
  private intBitfield(id: number): number {
    const target = this.btf.resolve(id);
    return target.kind === 'int' && target.bits !== target.size * 8 ? target.bits : 0;
  }

  /** A declaration of `name` with type `id` (C declarator syntax, inside out). */
  private declare(id: number, name: string, indent: string, depth = 0): string {
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', 'declarator nests too deeply', { typeId: id });
    const type = this.btf.type(id);
    const join = (base: string, declarator: string): string => (declarator ? `${base} ${declarator}` : base);
    switch (type.kind) {
      case 'void': return join('void', name);
      case 'int': case 'float': case 'typedef': return join(type.name, name);
      case 'enum': case 'enum64': return join(type.name ? `enum ${type.name}` : this.enumeration(type), name);
      case 'struct': case 'union': return join(type.name ? `${type.kind} ${type.name}` : this.composite(type, indent, depth + 1), name);
      case 'fwd': return join(`${type.union ? 'union' : 'struct'} ${type.name}`, name);
      case 'ptr': {
        const target = this.btf.type(type.type);
        const wrap = target.kind === 'array' || target.kind === 'func_proto';
        return this.declare(type.type, wrap ? `(*${name})` : `*${name}`, indent, depth + 1);
      }
      case 'array': return this.declare(type.type, `${name}[${type.length}]`, indent, depth + 1);
      case 'const': case 'volatile': case 'restrict': {
        const target = this.btf.type(type.type);
        if (target.kind === 'ptr') return this.declare(type.type, `${type.kind} ${name}`.trim(), indent, depth + 1).replace(`*${type.kind} `, `* ${type.kind} `);
        return `${type.kind} ${this.declare(type.type, name, indent, depth + 1)}`;
      }
      case 'type_tag': return this.declare(type.type, name, indent, depth + 1);
      case 'func_proto': {
        const params = type.params.length === 0 ? 'void' : type.params.map((p) => (p.type === 0 ? '...' : this.declare(p.type, p.name, indent, depth + 1))).join(', ');
        return this.declare(type.returnType, `${name}(${params})`, indent, depth + 1);
      }
      case 'func': return this.declare(type.type, name, indent, depth + 1);
      case 'var': return this.declare(type.type, cIdentifier(name), indent, depth + 1);
      case 'datasec': return `/* section ${type.name} */`;
      case 'decl_tag': return this.declare(type.type, name, indent, depth + 1);
    }
  }
}
