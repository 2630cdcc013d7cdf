/**
 * Skeletons (`bpfmap gen OBJECT.bpf.o > object.ts`): a TypeScript module for one object, what
 * libbpf's `bpftool gen skeleton` and cilium/ebpf's bpf2go write for C and Go. It declares the C
 * types of the object's map keys and values and of its global variables (the BTF printer's shapes,
 * which the BTF codecs decode and accept), and a typed `load()` returning `{ maps, programs,
 * globals, attach() }`: each map a `BpfMap<Key, Value>`, programs by name, globals read and written
 * by name, `.rodata` constants settable before load through `load({ constants })`. The object's
 * bytes are embedded (base64) or read from a path. The module compiles under `tsc --strict`.
 */
import { typeScriptExpressions } from '../codec/btf/typescript.js';
import { isPerCpuType } from '../sys/constants.js';
import type { ObjectSpec } from './object-spec.js';
import { requiredTarget, takesProcess } from './skeleton-attach.js';

/** Options of `generateSkeleton`. */
export interface SkeletonOptions {
  /** The object file's name, for the header comment. */
  readonly sourceName: string;
  /** Embed these bytes (the object file) in the module, base64-encoded. */
  readonly bytes?: Uint8Array;
  /** Read the object from this path at load instead of embedding it. */
  readonly path?: string;
  /** Where the module imports bpfmap from (default `'bpfmap'`). */
  readonly importFrom?: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `minimal_counter` → `MinimalCounter`: the prefix of the module's own type names. */
export function skeletonTypePrefix(objectName: string): string {
  const words = objectName.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('') || 'Object';
  return /^[0-9]/.test(name) ? `Bpf${name}` : name;
}

function property(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/**
 * The skeleton module's source for an opened object.
 *
 * @example
 * const bytes = readFileSync('counter.bpf.o');
 * writeFileSync('counter.ts', generateSkeleton(BpfObject.open(bytes, { name: 'counter' }), { sourceName: 'counter.bpf.o', bytes }));
 * // import { load } from './counter.js'; using skel = load({ constants: { verdict: 2 } }); skel.maps.counts.get(0);
 * @throws TypeError (`ERR_BPFMAP_GEN_OPTIONS`) unless exactly one of `bytes` and `path` is given.
 */
export function generateSkeleton(spec: ObjectSpec, options: SkeletonOptions): string {
  if ((options.bytes === undefined) === (options.path === undefined)) {
    throw Object.assign(new TypeError('generateSkeleton takes exactly one of bytes (embed the object) and path (read it at load)'), { code: 'ERR_BPFMAP_GEN_OPTIONS' });
  }
  const prefix = skeletonTypePrefix(spec.name);
  const btf = spec.btf;
  const userMaps = [...spec.maps.entries()].filter(([, map]) => map.kind === 'btf' || map.kind === 'legacy');
  const variables = [...spec.variables.values()];
  // Every type the module names, printed once; ids of 0 (no BTF) stay raw bytes.
  const ids: number[] = [];
  for (const [, map] of userMaps) {
    if (map.valueTypeId > 0) {
      if (map.keyTypeId > 0) ids.push(map.keyTypeId);
      ids.push(map.valueTypeId);
    }
  }
  for (const variable of variables) ids.push(variable.typeId);
  const printed = btf && ids.length > 0 ? typeScriptExpressions(btf, ids) : { declarations: '', expressions: [] };
  const expressions = [...printed.expressions];
  const next = (): string => expressions.shift() ?? 'unknown';

  const mapLines: string[] = [];
  const mapValues: string[] = [];
  for (const [key, map] of userMaps) {
    let type = 'bpfmap.BpfMap';
    if (map.valueTypeId > 0) {
      const keyType = map.keyTypeId > 0 ? next() : 'Uint8Array';
      const valueType = next();
      type = `bpfmap.BpfMap<${keyType}, ${isPerCpuType(map.type) ? `${valueType.includes(' ') ? `(${valueType})` : valueType}[]` : valueType}>`;
    }
    mapLines.push(`  readonly ${property(key)}: ${type};`);
    mapValues.push(`      ${property(key)}: object.map(${JSON.stringify(key)}) as ${type},`);
  }
  const globalLines: string[] = [];
  const constantLines: string[] = [];
  const variableList: string[] = [];
  for (const variable of variables) {
    const type = next();
    globalLines.push(`  ${variable.constant ? 'readonly ' : ''}${property(variable.name)}: ${type};`);
    if (variable.constant) constantLines.push(`  readonly ${property(variable.name)}?: ${type};`);
    variableList.push(JSON.stringify(variable.name));
  }
  const programs = [...spec.programs.keys()];
  // attach()'s targets, typed by program: an interface or a cgroup where the section names none
  // (required: the caller decides, or passes false), a pid for uprobes, false for the rest.
  const targetLines: string[] = [];
  let targetsRequired = false;
  for (const [name, program] of spec.programs) {
    const needs = requiredTarget(program);
    if (needs === 'interface') {
      targetLines.push(`  /** Section '${program.sectionName}': the interface (name or index) to attach to, or false to leave it unattached. */`, `  readonly ${property(name)}: { readonly interface: bpfmap.NetworkInterface } | false;`);
      targetsRequired = true;
    } else if (needs === 'cgroup') {
      targetLines.push(`  /** Section '${program.sectionName}': the cgroup v2 directory to attach to, or false to leave it unattached. */`, `  readonly ${property(name)}: { readonly cgroup: string } | false;`);
      targetsRequired = true;
    } else if (takesProcess(program.sectionName)) {
      targetLines.push(`  /** Section '${program.sectionName}': only this process (default every process), or false to leave it unattached. */`, `  readonly ${property(name)}?: { readonly pid?: number } | false;`);
    } else {
      targetLines.push(`  /** Section '${program.sectionName}': false leaves it unattached. */`, `  readonly ${property(name)}?: false;`);
    }
  }
  const importFrom = options.importFrom ?? 'bpfmap';
  const source = options.bytes
    ? [
        `const OBJECT_BASE64 = ${JSON.stringify(Buffer.from(options.bytes).toString('base64'))};`,
        '',
        '/** The object file\'s bytes (embedded). */',
        'export function objectBytes(): Uint8Array {',
        '  return new Uint8Array(Buffer.from(OBJECT_BASE64, \'base64\'));',
        '}',
      ]
    : [
        `const OBJECT_PATH = ${JSON.stringify(options.path)};`,
        '',
        '/** The object file\'s bytes (read from its path). */',
        'export function objectBytes(): Uint8Array {',
        '  return new Uint8Array(readFileSync(OBJECT_PATH));',
        '}',
      ];
  const lines = [
    `// Generated by \`bpfmap gen\` from ${options.sourceName}: do not edit; generate again when the object changes.`,
    ...(options.path ? ['import { readFileSync } from \'node:fs\';'] : []),
    // A namespace import: C type names (a struct Link, a typedef BpfMap) cannot collide with it.
    `import * as bpfmap from ${JSON.stringify(importFrom)};`,
    '',
    printed.declarations.trimEnd(),
    '',
    `/** The maps of ${options.sourceName}, typed through their BTF. */`,
    `export interface ${prefix}Maps {`,
    ...mapLines,
    '}',
    '',
    `/** The programs of ${options.sourceName}, by C function name. */`,
    `export interface ${prefix}Programs {`,
    ...programs.map((name) => `  readonly ${property(name)}: bpfmap.BpfProgram;`),
    '}',
    '',
    `/** Global variables, read and written through the mapped data sections (\`.rodata\` ones are read-only once loaded). */`,
    `export interface ${prefix}Globals {`,
    ...globalLines,
    '}',
    '',
    `/** \`.rodata\` constants, set before load. */`,
    `export interface ${prefix}Constants {`,
    ...constantLines,
    '}',
    '',
    `/** Options of \`load()\`: bpfmap's load options and the constants to set first. */`,
    `export interface ${prefix}LoadOptions extends bpfmap.LoadOptions {`,
    `  readonly constants?: ${prefix}Constants;`,
    '}',
    '',
    `/** Where \`attach()\` puts each program, by name. */`,
    `export interface ${prefix}AttachTargets {`,
    ...targetLines,
    '}',
    '',
    `/** ${options.sourceName}, loaded. Close it (or \`using\`) to detach its links and release its maps and programs. */`,
    `export interface ${prefix}Skeleton extends Disposable {`,
    '  readonly object: bpfmap.BpfObject;',
    `  readonly maps: ${prefix}Maps;`,
    `  readonly programs: ${prefix}Programs;`,
    `  readonly globals: ${prefix}Globals;`,
    '  /**',
    '   * Attaches every program: where its section name says (libbpf\'s auto-attach), XDP, tcx and',
    '   * cgroup programs where `targets` says; all or none. The links close with the skeleton.',
    '   * @throws BpfAttachError `ERR_BPFMAP_ATTACH_TARGET` naming a program that needs a target and has none.',
    '   */',
    `  attach(targets${targetsRequired ? '' : '?'}: ${prefix}AttachTargets): readonly bpfmap.Link[];`,
    '  close(): void;',
    '}',
    '',
    ...source,
    '',
    `/** Opens ${options.sourceName}, sets the constants, and loads it. */`,
    `export function load(options: ${prefix}LoadOptions = {}): ${prefix}Skeleton {`,
    '  const { constants, ...loadOptions } = options;',
    `  const spec = bpfmap.BpfObject.open(objectBytes(), { name: ${JSON.stringify(spec.name)} });`,
    '  for (const [name, value] of Object.entries(constants ?? {})) if (value !== undefined) spec.setConstant(name, value);',
    '  const object = spec.load(loadOptions);',
    '  try {',
    `    const globals = {} as ${prefix}Globals;`,
    `    const variables: readonly string[] = [${variableList.join(', ')}];`,
    '    for (const name of variables) {',
    '      Object.defineProperty(globals, name, {',
    '        enumerable: true,',
    '        get: () => object.globals.get(name),',
    '        // Constants too: globals.set() says they are read-only once loaded (and how to set them).',
    '        set: (value: unknown) => object.globals.set(name, value),',
    '      });',
    '    }',
    `    const maps: ${prefix}Maps = {`,
    ...mapValues,
    '    };',
    `    const programs: ${prefix}Programs = {`,
    ...programs.map((name) => `      ${property(name)}: object.program(${JSON.stringify(name)}),`),
    '    };',
    '    const links: bpfmap.Link[] = [];',
    '    return {',
    '      object,',
    '      maps,',
    '      programs,',
    '      globals,',
    `      attach(targets: ${prefix}AttachTargets${targetsRequired ? '' : ' = {}'}): readonly bpfmap.Link[] {`,
    '        links.push(...bpfmap.attachPrograms(object.programs, targets, new Set(object.spec.programs.keys())));',
    '        return links;',
    '      },',
    '      close(): void {',
    '        for (const link of links.splice(0)) link.close();',
    '        object.close();',
    '      },',
    '      [Symbol.dispose](): void {',
    '        this.close();',
    '      },',
    '    };',
    '  } catch (error) {',
    '    object.close();',
    '    throw error;',
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}
