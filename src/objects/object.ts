/**
 * `BpfObject`: a loaded BPF object — its maps (typed through their BTF), its programs, and its
 * global variables, read and written by name through the memory-mapped data sections.
 */
import { installedBtfCodec as btfCodec } from '../codec/btf/codec-support.js';
import { bytesCodec } from '../codec/codec.js';
import { MapFlags } from '../sys/constants.js';
import { BpfError, Errno } from '../sys/errors.js';
import type { BpfMap } from '../map/bpf-map.js';
import type { MappedArray } from '../map/mapped-array.js';
import { ObjectError } from './errors.js';
import { openObject, type ObjectSpec, type OpenOptions } from './object-spec.js';
import type { BpfProgram } from './program.js';
import { rememberObjectMaps } from './object-maps.js';

/** How to load an object. */
export interface LoadOptions {
  /** Folder of the maps pinned by name (`LIBBPF_PIN_BY_NAME`); libbpf's default, `/sys/fs/bpf`, when omitted. */
  readonly pinPath?: string;
  /**
   * Verifier log level for every program: 0 (default) asks for a log only when a load fails
   * (then at level 1); 1 basic, 2 verbose, 4 statistics (flags combine). With a level, each
   * program's log is in `program.verifierLog`.
   */
  readonly logLevel?: number;
  /** First log buffer size in bytes (default 64 KiB; grown when the kernel says it was cut). */
  readonly logSize?: number;
  /** Load only these programs (by C function name); the others' `autoload` is ignored. */
  readonly programs?: readonly string[];
}

const u32Key = (index: number): Uint8Array => new Uint8Array(new Uint32Array([index]).buffer);

/**
 * A loaded object. Close it (or `using`) to release its maps and programs; pinned ones stay.
 *
 * @example
 * const spec = BpfObject.open('counter.bpf.o');
 * spec.setConstant('verdict', 1);
 * using object = spec.load();
 * const result = object.program('xdp_verdict').run({ data: new Uint8Array(64) });
 * object.globals.get('runs'); // 1n
 */
export class BpfObject implements Disposable {
  /** The spec it was loaded from. */
  readonly spec: ObjectSpec;
  /** Programs by C function name. */
  readonly programs: ReadonlyMap<string, BpfProgram>;
  /** Global variables of the data sections, by name. */
  readonly globals: GlobalVariables;
  /** The maps as the load left them (raw handles), until `maps` types them. */
  readonly #loaded: ReadonlyMap<string, { map: BpfMap<unknown, unknown>; borrowed: boolean }>;
  #typed: ReadonlyMap<string, BpfMap<unknown, unknown>> | undefined;
  readonly #borrowed: ReadonlySet<BpfMap<unknown, unknown>>;
  #closed = false;

  /**
   * Reads an object into an editable spec; `spec.load()` loads it.
   * @throws ObjectError (`ERR_BPFMAP_OBJECT_ELF`, `ERR_BPFMAP_OBJECT_MAP`, ...) when it cannot be read.
   */
  static open(source: string | Uint8Array, options: OpenOptions = {}): ObjectSpec {
    return openObject(source, options);
  }

  /** Opens and loads an object in one step. */
  static load(source: string | Uint8Array, options: OpenOptions & LoadOptions = {}): BpfObject {
    return openObject(source, options).load(options);
  }

  /** @internal Made by `ObjectSpec.load`. */
  constructor(spec: ObjectSpec, maps: ReadonlyMap<string, { map: BpfMap<unknown, unknown>; borrowed: boolean }>, programs: ReadonlyMap<string, BpfProgram>) {
    this.spec = spec;
    this.#loaded = maps;
    this.#borrowed = new Set([...maps.values()].filter((entry) => entry.borrowed).map((entry) => entry.map));
    this.programs = programs;
    this.globals = new GlobalVariables(spec, () => this.maps);
    rememberObjectMaps(programs.values(), () => this.maps);
  }

  /**
   * Maps by their spec key (variable name; `.rodata`, `.bss`... for data maps), typed through
   * their BTF when they have it. Typed on first use: a loader that only pins, as `bpfmap load`
   * does, builds no codec and reads no map BTF back from the kernel.
   */
  get maps(): ReadonlyMap<string, BpfMap<unknown, unknown>> {
    if (this.#typed) return this.#typed;
    const typed = new Map<string, BpfMap<unknown, unknown>>();
    for (const [key, { map, borrowed }] of this.#loaded) {
      if (borrowed || this.#closed) {
        typed.set(key, map);
        continue;
      }
      let view = map;
      try {
        // Through BpfMap's BTF support (the package's entry point installs it), so that loading an
        // object need not load the map BTF modules (formats, records, the BTF writer).
        view = map.typed();
        map.close();
      } catch {
        // Maps whose BTF cannot be read stay raw.
      }
      typed.set(key, view);
    }
    this.#typed = typed;
    return typed;
  }

  /** The map with this key or kernel name. @throws ObjectError (`ERR_BPFMAP_OBJECT_NAME`) when there is none. */
  map<K = unknown, V = unknown>(name: string): BpfMap<K, V> {
    const map = this.maps.get(name) ?? [...this.maps.values()].find((m) => m.name === name);
    if (!map) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no map named '${name}' (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return map as BpfMap<K, V>;
  }

  /** The program with this name. @throws ObjectError (`ERR_BPFMAP_OBJECT_NAME`) when there is none. */
  program(name: string): BpfProgram {
    const program = this.programs.get(name);
    if (!program) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no loaded program named '${name}' (programs: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return program;
  }

  /** Closes every map and program handle (maps given to `replaceMap` stay open). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.globals.close();
    for (const program of this.programs.values()) program.close();
    const maps = this.#typed ?? new Map([...this.#loaded].map(([key, entry]) => [key, entry.map]));
    for (const map of maps.values()) if (!this.#borrowed.has(map)) map.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The global variables of a loaded object: each read and written through its data section's
 * memory mapping (the program sees a write at once), or through the map when the section is not
 * mappable. `.rodata` variables are read-only once loaded.
 */
export class GlobalVariables {
  readonly #spec: ObjectSpec;
  readonly #maps: () => ReadonlyMap<string, BpfMap<unknown, unknown>>;
  readonly #mappings = new Map<string, MappedArray>();

  /** @internal `maps` gives the object's maps when a variable is first used. */
  constructor(spec: ObjectSpec, maps: () => ReadonlyMap<string, BpfMap<unknown, unknown>>) {
    this.#spec = spec;
    this.#maps = maps;
  }

  /** The variables' names. */
  names(): string[] {
    return [...this.#spec.variables.keys()];
  }

  #locate(name: string): { bytes: Uint8Array; offset: number; typeId: number; write: (() => void) | undefined; constant: boolean } {
    const variable = this.#spec.variables.get(name);
    if (!variable || !this.#spec.btf) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no global variable named '${name}' (variables: ${this.names().join(', ') || 'none'})`);
    const map = this.#maps().get(variable.map);
    if (!map) throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `the map of section '${variable.map}' is not loaded`);
    if ((map.flags & MapFlags.MMAPABLE) !== 0) {
      let mapping = this.#mappings.get(variable.map);
      if (!mapping) {
        mapping = map.mmap();
        this.#mappings.set(variable.map, mapping);
      }
      // A frozen section maps read-only: its bytes are read as a copy.
      const bytes = mapping.writable ? mapping.bytes : mapping.read(0);
      return { bytes, offset: variable.offset, typeId: variable.typeId, write: undefined, constant: !mapping.writable };
    }
    // Raw bytes both ways: the loaded map is typed (an array index key, the DATASEC's value).
    const rawCodecs = (): BpfMap<Uint8Array, Uint8Array> => map.withCodecs<Uint8Array, Uint8Array>(bytesCodec(map.keySize), bytesCodec(map.valueSize));
    const raw = rawCodecs();
    try {
      const value = raw.get(u32Key(0));
      if (!value) throw new BpfError(`map '${map.name}' has no entry 0`, { code: 'ENOENT', errno: Errno.ENOENT });
      const write = (): void => {
        const writer = rawCodecs();
        try {
          writer.set(u32Key(0), value);
        } finally {
          writer.close();
        }
      };
      return { bytes: value, offset: variable.offset, typeId: variable.typeId, write, constant: map.frozen };
    } finally {
      raw.close();
    }
  }

  /** The variable's current value, decoded through its BTF type. */
  get<T = unknown>(name: string): T {
    const { bytes, offset, typeId } = this.#locate(name);
    return btfCodec<T>(this.#spec.btf as NonNullable<ObjectSpec['btf']>, typeId).decode(bytes, offset);
  }

  /**
   * Writes the variable (encoded through its BTF type); the program sees it on its next run.
   * @throws ObjectError (`ERR_BPFMAP_OBJECT_STATE`) for `.rodata` variables: they are frozen at load (set them on the spec).
   */
  set(name: string, value: unknown): void {
    const location = this.#locate(name);
    if (location.constant) throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', `variable '${name}' is read-only after load (a .rodata constant): set it on the spec with setConstant() before load`);
    btfCodec(this.#spec.btf as NonNullable<ObjectSpec['btf']>, location.typeId).encode(value, location.bytes, location.offset);
    location.write?.();
  }

  /** @internal Unmaps the data sections. */
  close(): void {
    for (const mapping of this.#mappings.values()) mapping.unmap();
    this.#mappings.clear();
  }
}
