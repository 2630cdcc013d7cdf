/**
 * Field formats: opt-in ways to show chosen fields of a BTF value other than bpftool's default,
 * chiefly network addresses and ports that BPF programs keep in network byte order (`__be32
 * saddr` would otherwise print as a byte-swapped integer).
 *
 * A rule is `SELECTOR=FORMAT`. The selector is a field path (`saddr`, `tuple.dport`,
 * `key.saddr`: it matches every field whose own path ends with those names; anonymous members
 * are see-through, array elements share their array's path) or, when no field matches it, a
 * BTF type name (`__be32`, `struct in6_addr`, `in6_addr`). Formats:
 * - `ipv4`: 4 bytes as `a.b.c.d` (or the first 4 of a 16-byte address slot)
 * - `ipv6`: 16 bytes as inet_ntop prints them (`::1`, `fe80::1`, `::ffff:1.2.3.4`)
 * - `ip`: 4 bytes as IPv4; 16 bytes as IPv4 (first 4) or IPv6 by the address family in a field
 *   of an enclosing struct (`family`, `af`, `sa_family`, ...: AF_INET 2 or 4, AF_INET6 10 or 6),
 *   IPv6 when there is none or it holds another value
 * - `port`: 2 bytes in network order as a number in host order (a `__be16` port)
 * - `be`: a 1-, 2-, 4- or 8-byte big-endian integer as a number
 * - `mac`: 6 bytes as `aa:bb:cc:dd:ee:ff`
 * - `hex`: the bytes in memory order as a hex string (`"7f000001"`)
 * - `family`: marks the field `ip` reads the family from (shown as usual)
 * `net: true` adds the type rules `__be16=port`, `__be32=ipv4`, `struct in_addr=ipv4` and
 * `struct in6_addr=ipv6` (given rules win). Addresses format as strings, ports as numbers.
 *
 * Rules compile against the types once (`planFieldFormats`) into a plan that follows the type's
 * shape only where a rule applies; formatting a value with a plan costs nothing elsewhere.
 */
import { argumentError } from '../../sys/errors.js';
import type { Btf } from './btf.js';
import type { BtfType } from './types.js';

/** How one field is shown (see the module comment). */
export type FieldFormat = 'ipv4' | 'ipv6' | 'ip' | 'port' | 'be' | 'mac' | 'hex' | 'family';

/** Every field format, in the order messages list them. */
export const FIELD_FORMATS: readonly FieldFormat[] = ['ipv4', 'ipv6', 'ip', 'port', 'be', 'mac', 'hex', 'family'];

/** Which fields show how. */
export interface FieldFormatOptions {
  /**
   * Field paths or BTF type names to formats: `{ saddr: 'ip', dport: 'port', __be32: 'ipv4' }`.
   * A selector that names no field is taken as a type name.
   */
  readonly fields?: Readonly<Record<string, FieldFormat>>;
  /** Shows `__be16` as ports and `__be32`, `struct in_addr`, `struct in6_addr` as addresses. */
  readonly net?: boolean;
}

/** The type rules `net: true` adds. */
const NET_TYPE_RULES: ReadonlyMap<string, FieldFormat> = new Map([
  ['__be16', 'port'], ['__be32', 'ipv4'], ['struct in_addr', 'ipv4'], ['struct in6_addr', 'ipv6'],
]);

/** Field names that hold an address family (the first one an enclosing struct has is used). */
const FAMILY_NAMES: ReadonlySet<string> = new Set(['family', 'af', 'sa_family', 'ss_family', 'sin_family', 'sin6_family', 'skc_family', 'addr_family', 'ip_family', 'ipver', 'ip_version', 'ipversion', 'version']);

const MAX_DEPTH = 64;

/** Where a struct keeps the address family its `ip` fields follow. */
export interface FamilySource {
  /** Byte offset of the family field in the struct. */
  readonly offset: number;
  /** 1, 2 or 4. */
  readonly size: number;
}

/** A compiled plan for one type: follows the type where rules apply (exported for format.ts). */
export interface FormatPlan {
  /** The format of this value, when a rule selects it. */
  format?: FieldFormat;
  /** Bytes of the value (for `ip` and `ipv4`, which read by size). */
  size: number;
  /** Plans of a struct's or union's members, by member index. */
  members?: (FormatPlan | undefined)[];
  /** The plan of every element of an array. */
  element?: FormatPlan;
  /** A struct whose family field `ip` fields under it follow. */
  family?: FamilySource;
}

/** A root of `planFieldFormats`: a type and the name paths may start with (`key`, `value`). */
export interface FormatRoot {
  readonly typeId: number;
  /** A first path component that selectors may name (`key.saddr`); none when undefined. */
  readonly name?: string;
}

function formatError(message: string): TypeError {
  return argumentError(TypeError, 'ERR_BPFMAP_FIELD_FORMAT', message);
}

/**
 * Parses rules written as text: `saddr=ip,dport=port,struct in6_addr=ipv6` (commas between
 * rules). Throws a TypeError (`ERR_BPFMAP_FIELD_FORMAT`) naming
 * the rule and the formats there are.
 */
export function parseFieldFormats(text: string): Record<string, FieldFormat> {
  const rules: Record<string, FieldFormat> = Object.create(null) as Record<string, FieldFormat>;
  const parts = text.split(',').filter((part) => part.trim() !== '');
  if (parts.length === 0) throw formatError(`no rules in '${text}': give FIELD=FORMAT[,...] with FORMAT one of ${FIELD_FORMATS.join(', ')}`);
  for (const part of parts) {
    const match = /^\s*([^=]+?)\s*=\s*([^=\s]*)\s*$/.exec(part);
    if (match === null) throw formatError(`'${part.trim()}' is not FIELD=FORMAT (FORMAT one of ${FIELD_FORMATS.join(', ')})`);
    const [, selector = '', format = ''] = match;
    checkFormatName(selector, format);
    rules[selector.replace(/\s+/g, ' ')] = format as FieldFormat;
  }
  return rules;
}

function checkFormatName(selector: string, format: string): asserts format is FieldFormat {
  if (!(FIELD_FORMATS as readonly string[]).includes(format)) {
    throw formatError(`${selector}: unknown format '${format}'; the formats are ${FIELD_FORMATS.join(', ')}`);
  }
}

/** The sizes a format reads, or undefined for any size. */
function sizesOf(format: FieldFormat): readonly number[] | undefined {
  switch (format) {
    case 'ipv4': return [4, 16];
    case 'ipv6': return [16];
    case 'ip': return [4, 16];
    case 'port': return [2];
    case 'be': return [1, 2, 4, 8];
    case 'mac': return [6];
    case 'family': return [1, 2, 4];
    case 'hex': return undefined;
  }
}

/** Formats that read a field of `size` bytes. */
function formatsFitting(size: number): FieldFormat[] {
  return FIELD_FORMATS.filter((format) => sizesOf(format)?.includes(size) ?? true);
}

/** A selector's path components, or the whole selector for type names with spaces. */
interface Rule {
  readonly selector: string;
  readonly path: readonly string[];
  readonly format: FieldFormat;
  matched: boolean;
}

/** C names of a type along its typedef/modifier chain: `__be32`, then `__u32`; `struct in6_addr` and `in6_addr`. */
function typeNames(btf: Btf, typeId: number): string[] {
  const names: string[] = [];
  let type: BtfType = btf.type(typeId);
  for (let hops = 0; hops < MAX_DEPTH; hops++) {
    if (type.name !== '') {
      if (type.kind === 'struct' || type.kind === 'union') names.push(`${type.kind} ${type.name}`, type.name);
      else if (type.kind === 'enum' || type.kind === 'enum64') names.push(`enum ${type.name}`, type.name);
      else names.push(type.name);
    }
    if (type.kind !== 'typedef' && type.kind !== 'const' && type.kind !== 'volatile' && type.kind !== 'restrict' && type.kind !== 'type_tag') break;
    type = btf.type(type.type);
  }
  return names;
}

function endsWith(path: readonly string[], suffix: readonly string[]): boolean {
  if (suffix.length > path.length) return false;
  for (let i = 1; i <= suffix.length; i++) if (path[path.length - i] !== suffix[suffix.length - i]) return false;
  return true;
}

/** A scalar (int or enum) of 1, 2 or 4 bytes: what a family field can be. */
function isFamilyScalar(btf: Btf, typeId: number): boolean {
  const type = btf.resolve(typeId);
  return (type.kind === 'int' || type.kind === 'enum') && [1, 2, 4].includes(type.size);
}

class Planner {
  /** Field paths seen, for the message about a selector that matches nothing. */
  readonly fieldPaths: string[] = [];
  /** Structs with a family field, and where it is; a plan gets `family` once an `ip` field uses it. */
  private readonly familyCandidates = new Map<FormatPlan, FamilySource>();

  constructor(
    private readonly btf: Btf,
    private readonly fieldRules: readonly Rule[],
    private readonly typeRules: ReadonlyMap<string, FieldFormat>,
    private readonly netRules: ReadonlyMap<string, FieldFormat>,
    /** Type names whose rule applied somewhere. */
    private readonly typesUsed: Set<string>,
  ) {}

  /** The format rules give a value at `path` of type `typeId`: field rules, then type rules. */
  private formatOf(typeId: number, path: readonly string[]): { format: FieldFormat; what: string } | undefined {
    if (path.length > 0) {
      for (const rule of this.fieldRules) {
        if (endsWith(path, rule.path)) {
          rule.matched = true;
          return { format: rule.format, what: `${rule.selector}=${rule.format}` };
        }
      }
    }
    const names = typeNames(this.btf, typeId);
    for (const rules of [this.typeRules, this.netRules]) {
      for (const name of names) {
        const format = rules.get(name);
        if (format === undefined) continue;
        if (rules === this.typeRules) this.typesUsed.add(name);
        return { format, what: `${name}=${format}` };
      }
    }
    return undefined;
  }

  /**
   * The plan of a value of `typeId` at `path`, or undefined when no rule applies in it.
   * `families` holds the enclosing structs' plans that have a family field, innermost last.
   */
  plan(typeId: number, path: string[], families: FormatPlan[], depth: number): FormatPlan | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const size = this.btf.size(typeId);
    const found = this.formatOf(typeId, path);
    if (found !== undefined) {
      const sizes = sizesOf(found.format);
      const where = path.length > 0 ? `field '${path.join('.')}'` : 'the value';
      if (sizes !== undefined && !sizes.includes(size)) {
        throw formatError(`${found.what}: ${where} has ${size} byte${size === 1 ? '' : 's'} (${typeNames(this.btf, typeId)[0] ?? this.btf.resolve(typeId).kind}); ${found.format} reads ${sizes.join(' or ')}; formats for ${size} bytes: ${formatsFitting(size).join(', ')}`);
      }
      if (found.format === 'family' && !isFamilyScalar(this.btf, typeId)) throw formatError(`${found.what}: ${where} is not an integer or enum`);
      const node: FormatPlan = { format: found.format, size };
      if (found.format === 'ip' && size === 16) {
        const enclosing = families[families.length - 1];
        const source = enclosing === undefined ? undefined : this.familyCandidates.get(enclosing);
        if (enclosing !== undefined && source !== undefined) enclosing.family = source;
      }
      return node;
    }
    const type = this.btf.resolve(typeId);
    if (path.length > 0) this.fieldPaths.push(path.join('.'));
    if (type.kind === 'struct' || type.kind === 'union') {
      const node: FormatPlan = { size };
      const familyMember = this.familyMemberOf(type.members, path);
      if (familyMember !== undefined) this.familyCandidates.set(node, familyMember);
      const inner = familyMember !== undefined ? [...families, node] : families;
      const members = type.members.map((member) => {
        if (member.bitfieldSize !== 0) {
          if (member.name !== '') this.checkBitfield([...path, member.name]);
          return undefined;
        }
        return this.plan(member.type, member.name === '' ? path : [...path, member.name], inner, depth + 1);
      });
      if (members.some((member) => member !== undefined)) node.members = members;
      return node.members !== undefined ? node : undefined;
    }
    if (type.kind === 'array' && type.length > 0) {
      const element = this.plan(type.type, path, families, depth + 1);
      return element === undefined ? undefined : { size, element };
    }
    return undefined;
  }

  /** The member of a struct that holds its address family: one a rule marks, else by name. */
  private familyMemberOf(members: readonly { name: string; type: number; bitOffset: number; bitfieldSize: number }[], path: readonly string[]): FamilySource | undefined {
    const candidates = members.filter((member) => member.name !== '' && member.bitfieldSize === 0 && member.bitOffset % 8 === 0 && isFamilyScalar(this.btf, member.type));
    const marked = candidates.find((member) => this.fieldRules.some((rule) => rule.format === 'family' && endsWith([...path, member.name], rule.path)));
    const chosen = marked ?? candidates.find((member) => FAMILY_NAMES.has(member.name.toLowerCase()));
    return chosen === undefined ? undefined : { offset: chosen.bitOffset / 8, size: this.btf.size(chosen.type) };
  }

  private checkBitfield(path: readonly string[]): void {
    for (const rule of this.fieldRules) {
      if (endsWith(path, rule.path)) throw formatError(`${rule.selector}=${rule.format}: field '${path.join('.')}' is a bitfield, which no format reads`);
    }
  }
}

/**
 * Compiles format rules against one or more root types (a map's key and value) into one plan per
 * root (undefined where no rule applies). Every field rule must match a field in some root, or
 * name a type: otherwise, and for a format that does not fit the field's size, it throws a
 * TypeError (`ERR_BPFMAP_FIELD_FORMAT`) naming the rule, the field and the formats that fit.
 *
 * @example
 * const [keyPlan, valuePlan] = planFieldFormats(btf, [{ typeId: keyId, name: 'key' }, { typeId: valueId, name: 'value' }], { fields: { saddr: 'ip', dport: 'port' } });
 */
export function planFieldFormats(btf: Btf, roots: readonly FormatRoot[], options: FieldFormatOptions): (FormatPlan | undefined)[] {
  const given = options.fields ?? {};
  const rules: Rule[] = [];
  for (const [selector, format] of Object.entries(given)) {
    checkFormatName(selector, format);
    const path = /\s/.test(selector.trim()) ? [selector.trim()] : selector.split('.');
    if (path.some((part) => part === '')) throw formatError(`'${selector}' is not a field path (names joined by dots) or a type name`);
    rules.push({ selector, path, format, matched: false });
  }
  // A selector that names no field may name a type: try fields first, then retry as types.
  const typeRules = new Map<string, FieldFormat>();
  const net = options.net === true ? NET_TYPE_RULES : new Map<string, FieldFormat>();
  const typesUsed = new Set<string>();
  const planAll = (fieldRules: readonly Rule[]): { plans: (FormatPlan | undefined)[]; paths: string[] } => {
    const paths: string[] = [];
    const plans = roots.map((root) => {
      const planner = new Planner(btf, fieldRules, typeRules, net, typesUsed);
      const plan = planner.plan(root.typeId, root.name === undefined ? [] : [root.name], [], 0);
      paths.push(...planner.fieldPaths);
      return plan;
    });
    return { plans, paths };
  };
  const first = planAll(rules);
  const unmatched = rules.filter((rule) => !rule.matched);
  if (unmatched.length === 0) return first.plans;
  const knownTypes = new Set<string>();
  for (const rule of unmatched) {
    const name = rule.selector.trim().replace(/\s+/g, ' ');
    if (!typeNameExists(btf, name)) {
      const fields = [...new Set(first.paths)];
      const shown = fields.length > 40 ? `${fields.slice(0, 40).join(', ')}, ...` : fields.join(', ');
      throw formatError(`${rule.selector}=${rule.format}: no field '${rule.selector}' and no type of that name; the fields are ${shown || '(none: the type is not a struct)'}`);
    }
    knownTypes.add(name);
    typeRules.set(name, rule.format);
  }
  const second = planAll(rules.filter((rule) => !knownTypes.has(rule.selector.trim().replace(/\s+/g, ' '))));
  for (const name of knownTypes) {
    if (!typesUsed.has(name)) throw formatError(`${name}=${typeRules.get(name)}: no field is of type ${name}; the fields are ${[...new Set(second.paths)].join(', ')}`);
  }
  return second.plans;
}

/** True when the BTF has a type the C name `struct x`, `union x`, `enum x` or bare `x` names. */
function typeNameExists(btf: Btf, name: string): boolean {
  const match = /^(?:(struct|union|enum) )?([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
  if (match === null) return false;
  const [, keyword, bare = ''] = match;
  return btf.typesByName(bare).some((type) => keyword === undefined || type.kind === keyword || (keyword === 'enum' && type.kind === 'enum64'));
}
