/**
 * bpftool's `formatted` JSON for map entries, reproduced rule for rule from bpftool's
 * `btf_dumper.c` so that scripts written against `bpftool map dump -j` read bpfmap's output
 * unchanged:
 * - ints are numbers (64-bit ones as exact `bigint`s, see `json.ts`); 128-bit ints and every
 *   bitfield (including enum bitfields) are hex strings (`"0x1f"`); `_Bool` is true/false; a
 *   CHAR-encoded int is a one-character string
 * - an array of `char` that is printable up to a NUL is a string, otherwise an array
 * - enums are their enumerator's name, or the signed value when none matches
 * - structs and unions are objects of every member (anonymous members under the key `""`, as
 *   bpftool writes them); pointers are unsigned numbers
 * - typedef/const/volatile/restrict (and type_tag) are transparent; a var is `{name: value}`;
 *   a DATASEC is `{section: [{var: value}, ...]}`
 * Where bpftool fails, bpfmap does better: floats print as numbers (shortest text that reads back
 * to the same float; NaN and infinities as strings), and 64-bit values keep every digit.
 * Differences in text only: bpftool escapes `'` as `\'` (invalid JSON); bpfmap writes valid JSON.
 *
 * Opt-in field formats (`field-format.ts`) show chosen fields as addresses, ports and the like;
 * without them the output is bpftool's, unchanged.
 */
import { roundUp8 } from '../../sys/layout.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { checkArrayLength } from './codec.js';
import type { FormattedValue } from './json.js';
import type { BtfArray, BtfComposite, BtfDatasec, BtfEnum, BtfEnum64, BtfInt, BtfType } from './types.js';
import { planFieldFormats, type FieldFormatOptions, type FormatPlan } from './field-format.js';
import { ipv4Text, ipv6Text, macText } from '../net-address.js';

const MAX_DEPTH = 64;

/**
 * Formats one value of a BTF type the way bpftool's `formatted` field shows it; with `format`,
 * the fields it names show as addresses, ports, ... (see `FieldFormatOptions`; the rules are
 * compiled on every call: to format many values, make a formatter once with `btfValueFormatter`).
 * @throws BtfError for kinds bpftool cannot show either (forward declarations, functions, void).
 * @throws TypeError (`ERR_BPFMAP_FIELD_FORMAT`) for a rule that names no field or type, or a
 *   format that does not fit its field.
 * @example
 * formatBtfValue(btf, eventId, bytes, 0, { fields: { saddr: 'ip', daddr: 'ip', dport: 'port' } });
 * // { saddr: '127.0.0.1', daddr: '127.0.0.1', dport: 19300, ... }
 */
export function formatBtfValue(btf: Btf, typeId: number, bytes: Uint8Array, offset = 0, format?: FieldFormatOptions): FormattedValue {
  const plan = format === undefined ? undefined : planFieldFormats(btf, [{ typeId }], format)[0];
  return formatWithPlan(btf, typeId, bytes, offset, plan);
}

/**
 * A function that formats values of one BTF type, with field formats compiled once.
 * @throws TypeError (`ERR_BPFMAP_FIELD_FORMAT`) as `formatBtfValue` does, when it is made.
 * @example
 * const show = btfValueFormatter(btf, btf.typeByName('event').id, { net: true });
 * for (const record of records) console.log(show(record));
 */
export function btfValueFormatter(btf: Btf, typeId: number, format: FieldFormatOptions = {}): (bytes: Uint8Array, offset?: number) => FormattedValue {
  const [plan] = planFieldFormats(btf, [{ typeId }], format);
  return (bytes, offset = 0) => formatWithPlan(btf, typeId, bytes, offset, plan);
}

/** `formatBtfValue` with a compiled plan (from `planFieldFormats`; undefined for bpftool's output). */
export function formatWithPlan(btf: Btf, typeId: number, bytes: Uint8Array, offset: number, plan: FormatPlan | undefined): FormattedValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = btf.size(typeId);
  if (offset < 0 || offset + size > bytes.length) throw new RangeError(`need ${size} bytes at offset ${offset}, have ${bytes.length}`);
  try {
    return new Formatter(btf, view, bytes).type(typeId, 0, offset, 0, plan, undefined);
  } catch (error) {
    // Offsets come from the BTF: a member placed past its type's end (possible only in malformed
    // BTF) reads outside the bytes, which DataView reports as a bare RangeError.
    if (error instanceof RangeError && (error as { code?: unknown }).code === undefined) {
      throw new BtfError('ERR_BTF_BAD_TYPE', `a member lies outside the ${size} bytes of its type (${error.message})`, { typeId, cause: error });
    }
    throw error;
  }
}

/** What `formatMapEntry` needs to know about the map (a subset of `MapInfo`). */
export interface FormatMapInfo {
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly btfVmlinuxValueTypeId?: number;
  readonly valueSize: number;
}

/** bpftool's `formatted` object of one map entry. */
export type FormattedEntry =
  | { readonly key?: FormattedValue; readonly value: FormattedValue }
  | { readonly key?: FormattedValue; readonly values: readonly { readonly cpu: number; readonly value: FormattedValue }[] };

/**
 * The `formatted` object of one dump entry: `{key, value}`, or for per-CPU maps (pass `cpus`, the
 * possible-CPU count, and the whole per-CPU value buffer) `{key, values: [{cpu, value}]}`. The key
 * is left out when the map has no BTF key type (as for `.data` maps). With `format`, the fields
 * it names in the key or the value (paths may start with `key.` or `value.`) show as addresses,
 * ports, ... (see `FieldFormatOptions`).
 *
 * @example
 * formatToJson(formatMapEntry(btf, map.info, keyBytes, valueBytes));
 * formatMapEntry(btf, map.info, keyBytes, valueBytes, undefined, { fields: { 'key.daddr': 'ipv4', dport: 'port' } });
 */
export function formatMapEntry(btf: Btf, info: FormatMapInfo, key: Uint8Array, value: Uint8Array, cpus?: number, format?: FieldFormatOptions): FormattedEntry {
  const valueTypeId = info.btfVmlinuxValueTypeId || info.btfValueTypeId;
  const [keyPlan, valuePlan] = format === undefined ? [] : planEntryFormats(btf, info.btfKeyTypeId, valueTypeId, format);
  const keyPart = info.btfKeyTypeId ? { key: formatWithPlan(btf, info.btfKeyTypeId, key, 0, keyPlan) } : {};
  if (cpus === undefined) return { ...keyPart, value: formatWithPlan(btf, valueTypeId, value, 0, valuePlan) };
  const stride = roundUp8(info.valueSize);
  const values = [];
  for (let cpu = 0; cpu < cpus; cpu++) values.push({ cpu, value: formatWithPlan(btf, valueTypeId, value, cpu * stride, valuePlan) });
  return { ...keyPart, values };
}

/**
 * Plans of field formats for a map's key and value types (a type id of 0: none), with the
 * paths rooted at `key` and `value`.
 * @throws TypeError (`ERR_BPFMAP_FIELD_FORMAT`) as `planFieldFormats` does.
 */
export function planEntryFormats(btf: Btf, keyTypeId: number, valueTypeId: number, format: FieldFormatOptions): [FormatPlan | undefined, FormatPlan | undefined] {
  const roots = [...(keyTypeId ? [{ typeId: keyTypeId, name: 'key' }] : []), ...(valueTypeId ? [{ typeId: valueTypeId, name: 'value' }] : [])];
  const plans = planFieldFormats(btf, roots, format);
  return keyTypeId ? [plans[0], plans[1]] : [undefined, plans[0]];
}

class Formatter {
  private readonly le: boolean;

  constructor(private readonly btf: Btf, private readonly view: DataView, private readonly bytes: Uint8Array) {
    this.le = btf.header.littleEndian;
  }

  /**
   * `plan` says which fields below show in another format (undefined: none, bpftool's output);
   * `family` is the address family of the innermost enclosing struct that has one.
   */
  type(id: number, bitOffset: number, offset: number, depth: number, plan: FormatPlan | undefined, family: number | undefined): FormattedValue {
    if (depth > MAX_DEPTH) throw new BtfError('ERR_BTF_CYCLE', `types nest deeper than ${MAX_DEPTH}`, { typeId: id });
    if (plan?.format !== undefined && plan.format !== 'family') return this.special(plan, offset, family);
    const type = this.btf.type(id);
    switch (type.kind) {
      case 'int': return this.int(type, bitOffset, offset);
      case 'struct': case 'union': return this.composite(type, offset, depth, plan, family);
      case 'array': return this.array(type, offset, depth, plan, family);
      case 'enum': return this.enumeration(type, offset);
      case 'enum64': return this.enumeration64(type, offset);
      case 'ptr': return this.view.getBigUint64(offset, this.le);
      case 'float': return this.float(type.size, offset);
      case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        return this.type(this.resolveForDump(id), bitOffset, offset, depth + 1, plan, family);
      case 'var': return { [type.name]: this.type(type.type, bitOffset, offset, depth + 1, undefined, undefined) };
      case 'datasec': return this.datasec(type, offset, depth);
      case 'void': return '(unknown)';
      default:
        throw new BtfError('ERR_BTF_UNSUPPORTED', `bpftool cannot format a ${type.kind} either`, { typeId: id });
    }
  }

  /** libbpf's btf__resolve_type: skips modifiers, typedefs and vars. */
  private resolveForDump(id: number): number {
    let type: BtfType = this.btf.type(id);
    for (let hops = 0; hops < MAX_DEPTH; hops++) {
      if (type.kind === 'typedef' || type.kind === 'volatile' || type.kind === 'const' || type.kind === 'restrict' || type.kind === 'type_tag' || type.kind === 'var') {
        id = type.type;
        type = this.btf.type(id);
      } else return id;
    }
    throw new BtfError('ERR_BTF_CYCLE', 'reference chain too long', { typeId: id });
  }

  private int(type: BtfInt, bitOffset: number, offset: number): FormattedValue {
    const bits = type.bits;
    if (bitOffset !== 0 || bits % 8 !== 0) return this.bitfield(bits, bitOffset, offset);
    if (bits === 128) return this.bitfield(128, 0, offset);
    const view = this.view;
    const le = this.le;
    if (type.bool) return view.getUint8(offset) !== 0;
    if (type.char) {
      const code = view.getUint8(offset);
      return String.fromCharCode(code);
    }
    switch (bits) {
      case 64: return type.signed ? view.getBigInt64(offset, le) : view.getBigUint64(offset, le);
      case 32: return type.signed ? view.getInt32(offset, le) : view.getUint32(offset, le);
      case 16: return type.signed ? view.getInt16(offset, le) : view.getUint16(offset, le);
      case 8: return type.signed ? view.getInt8(offset) : view.getUint8(offset);
      default: {
        // btf_dumper_int_bits: other widths print as bitfields at the int's own bit offset.
        const total = bitOffset + type.bitOffset;
        return this.bitfield(bits, total & 7, offset + (total >>> 3));
      }
    }
  }

  /** btf_dumper_bitfield: the bits as an unsigned hex string. */
  private bitfield(bits: number, bitShift: number, offset: number): string {
    const span = Math.ceil((bitShift + bits) / 8);
    let raw = 0n;
    for (let i = 0; i < span; i++) raw = (raw << 8n) | BigInt(this.view.getUint8(offset + (this.le ? span - 1 - i : i)));
    const shift = this.le ? bitShift : span * 8 - bitShift - bits;
    const value = (raw >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
    return `0x${value.toString(16)}`;
  }

  /** A field in the format a rule gave it (see field-format.ts). */
  private special(plan: FormatPlan, offset: number, family: number | undefined): FormattedValue {
    const bytes = this.bytes;
    switch (plan.format) {
      case 'ipv4': return ipv4Text(bytes, offset);
      case 'ipv6': return ipv6Text(bytes, offset);
      case 'ip':
        // AF_INET is 2 (some tools store the IP version, 4); AF_INET6 is 10 (or version 6).
        if (plan.size === 4 || family === 2 || family === 4) return ipv4Text(bytes, offset);
        return ipv6Text(bytes, offset);
      case 'port': return this.view.getUint16(offset, false);
      case 'be':
        switch (plan.size) {
          case 1: return this.view.getUint8(offset);
          case 2: return this.view.getUint16(offset, false);
          case 4: return this.view.getUint32(offset, false);
          default: return this.view.getBigUint64(offset, false);
        }
      case 'mac': return macText(bytes, offset);
      default: {
        let text = '';
        for (let i = 0; i < plan.size; i++) text += this.view.getUint8(offset + i).toString(16).padStart(2, '0');
        return text;
      }
    }
  }

  /** The address family a struct's family field holds (read as an unsigned integer). */
  private familyAt(plan: FormatPlan, offset: number): number | undefined {
    const source = plan.family;
    if (source === undefined) return undefined;
    const at = offset + source.offset;
    return source.size === 1 ? this.view.getUint8(at) : source.size === 2 ? this.view.getUint16(at, this.le) : this.view.getUint32(at, this.le);
  }

  private composite(type: BtfComposite, offset: number, depth: number, plan: FormatPlan | undefined, family: number | undefined): FormattedValue {
    const out: Record<string, FormattedValue> = {};
    const members = plan?.members;
    if (plan?.family !== undefined) family = this.familyAt(plan, offset);
    for (const [index, member] of type.members.entries()) {
      const end = member.bitfieldSize ? Math.ceil((member.bitOffset + member.bitfieldSize) / 8) : (member.bitOffset >>> 3) + this.btf.size(member.type);
      if (end > type.size) throw new BtfError('ERR_BTF_BAD_TYPE', `member '${member.name}' runs past the end of ${type.kind} ${type.name || '(anonymous)'}`, { typeId: type.id });
      const at = offset + (member.bitOffset >>> 3);
      out[member.name] = member.bitfieldSize
        ? this.bitfield(member.bitfieldSize, member.bitOffset & 7, at)
        : this.type(member.type, member.bitOffset & 7, at, depth + 1, members?.[index], family);
    }
    return out;
  }

  /** bpftool's is_str_array: char elements, printable bytes, and a NUL within the array. */
  private stringAt(type: BtfArray, offset: number): string | undefined {
    if (type.length === 0) return undefined;
    let element = this.btf.type(type.type);
    while (element.kind === 'volatile' || element.kind === 'const' || element.kind === 'restrict' || element.kind === 'type_tag') element = this.btf.type(element.type);
    if (element.kind !== 'int' || element.size !== 1) return undefined;
    if (!element.char && element.name !== 'char') return undefined;
    let text = '';
    for (let i = 0; i < type.length; i++) {
      const byte = this.view.getUint8(offset + i);
      if (byte === 0) return text;
      if (byte <= 0x1f || byte >= 0x7f) return undefined;
      text += String.fromCharCode(byte);
    }
    return undefined;
  }

  private array(type: BtfArray, offset: number, depth: number, plan: FormatPlan | undefined, family: number | undefined): FormattedValue {
    const element = plan?.element;
    if (element === undefined) {
      const text = this.stringAt(type, offset);
      if (text !== undefined) return text;
    }
    const stride = this.btf.size(type.type);
    checkArrayLength(type);
    const items: FormattedValue[] = [];
    for (let i = 0; i < type.length; i++) items.push(this.type(type.type, 0, offset + i * stride, depth + 1, element, family));
    return items;
  }

  /** btf_dumper_enum: the stored value sign-extended from its size, against s32 enumerators. */
  private enumeration(type: BtfEnum, offset: number): FormattedValue {
    const view = this.view;
    let value: bigint;
    switch (type.size) {
      case 8: value = view.getBigInt64(offset, this.le); break;
      case 4: value = BigInt(view.getInt32(offset, this.le)); break;
      case 2: value = BigInt(view.getInt16(offset, this.le)); break;
      default: value = BigInt(view.getInt8(offset)); break;
    }
    for (const enumerator of type.values) {
      if (BigInt(enumerator.value | 0) === value) return enumerator.name;
    }
    return type.size === 8 ? value : Number(value);
  }

  /** btf_dumper_enum64: 64-bit compare; an unmatched value prints signed. */
  private enumeration64(type: BtfEnum64, offset: number): FormattedValue {
    const raw = this.view.getBigUint64(offset, this.le);
    for (const enumerator of type.values) {
      if (BigInt.asUintN(64, enumerator.value) === raw) return enumerator.name;
    }
    return BigInt.asIntN(64, raw);
  }

  private float(size: number, offset: number): FormattedValue {
    if (size === 4) {
      const value = this.view.getFloat32(offset, this.le);
      return Number.isFinite(value) ? shortestFloat32(value) : value;
    }
    if (size === 8) return this.view.getFloat64(offset, this.le);
    // half and long double: the raw bits as hex, like a bitfield (no exact JS number exists).
    return this.bitfield(size * 8, 0, offset);
  }

  private datasec(type: BtfDatasec, offset: number, depth: number): FormattedValue {
    const vars: FormattedValue[] = type.vars.map((v) => {
      if (v.offset + this.btf.size(v.type) > type.size) throw new BtfError('ERR_BTF_BAD_TYPE', `a variable runs past the end of section ${type.name}`, { typeId: type.id });
      return this.type(v.type, 0, offset + v.offset, depth + 1, undefined, undefined);
    });
    return { [type.name]: vars };
  }
}

/** The shortest decimal that reads back as the same float32 (0.1f prints 0.1, not 0.100000001). */
export function shortestFloat32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}
