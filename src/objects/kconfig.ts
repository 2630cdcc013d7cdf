/**
 * kconfig externs (`extern int LINUX_KERNEL_VERSION __kconfig;`, `extern bool CONFIG_BPF_JIT
 * __kconfig __weak;`): their layout in the `.kconfig` map, as libbpf orders it, and their values
 * from the running kernel — `/proc/config.gz`, or `/boot/config-$(uname -r)` when the kernel does
 * not expose its config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../codec/btf/btf.js';
import { ObjectError } from './errors.js';

/** One kconfig extern and where it sits in the `.kconfig` map. */
export interface KconfigExtern {
  readonly name: string;
  /** The VAR's type id in the object's BTF. */
  readonly typeId: number;
  readonly size: number;
  readonly alignment: number;
  /** Byte offset in the `.kconfig` map's value. */
  readonly offset: number;
  /** `__weak`: a value the kernel does not have reads as 0 instead of failing the load. */
  readonly weak: boolean;
}

/**
 * Lays the externs of the `.kconfig` DATASEC out the way libbpf does (alignment descending, then
 * size ascending, then name), so that a map pinned by libbpf and one made here agree.
 */
export function layoutKconfig(btf: Btf, varIds: readonly number[], weakNames: ReadonlySet<string>): { externs: KconfigExtern[]; size: number } {
  const entries = varIds.map((id) => {
    const variable = btf.typeOfKind(id, 'var');
    return { name: variable.name, typeId: variable.type, size: btf.size(variable.type), alignment: btf.alignment(variable.type) };
  });
  entries.sort((a, b) => b.alignment - a.alignment || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  const externs: KconfigExtern[] = [];
  for (const entry of entries) {
    offset = Math.ceil(offset / entry.alignment) * entry.alignment;
    externs.push({ ...entry, offset, weak: weakNames.has(entry.name) });
    offset += entry.size;
  }
  return { externs, size: offset };
}

let cachedConfig: Map<string, string> | undefined;

/** Where the running kernel's config is read from, or undefined when neither file exists. */
export function kernelConfigPath(): string | undefined {
  if (existsSync('/proc/config.gz')) return '/proc/config.gz';
  const boot = `/boot/config-${release()}`;
  return existsSync(boot) ? boot : undefined;
}

/** The running kernel's `CONFIG_*` values (`y`, `m`, numbers, quoted strings), read once. */
export function kernelConfig(): Map<string, string> {
  if (cachedConfig) return cachedConfig;
  const path = kernelConfigPath();
  const config = new Map<string, string>();
  if (path) {
    const raw = readFileSync(path);
    const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const line of text.split('\n')) {
      const match = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) config.set(match[1], match[2]);
      // An option the configuration knows but leaves off: n (libbpf skips these lines, so a
      // strong extern of one fails there; reading n here loads a superset of what libbpf loads).
      const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
      if (unset?.[1]) config.set(unset[1], 'n');
    }
  }
  cachedConfig = config;
  return config;
}

/** KERNEL_VERSION(a, b, c) of the running kernel, as libbpf computes it from uname's release. */
export function kernelVersionCode(): number {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release());
  if (!match) return 0;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  return (major << 16) + (minor << 8) + Math.min(patch, 255);
}

/** True when the kernel's syscall entry points are wrapped (`__x64_sys_*`), as on x86_64 and arm64. */
function hasSyscallWrapper(): boolean {
  return process.arch === 'x64' || process.arch === 'arm64' || process.arch === 's390x';
}

/** Writes an integer of `size` bytes (host order, little-endian on the targets bpfmap runs on). */
function writeInt(target: Uint8Array, offset: number, size: number, value: bigint): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  switch (size) {
    case 1: view.setUint8(offset, Number(BigInt.asUintN(8, value))); break;
    case 2: view.setUint16(offset, Number(BigInt.asUintN(16, value)), true); break;
    case 4: view.setUint32(offset, Number(BigInt.asUintN(32, value)), true); break;
    case 8: view.setBigUint64(offset, BigInt.asUintN(64, value), true); break;
    default: throw new RangeError(`integer of ${size} bytes`);
  }
}

/**
 * Fills the `.kconfig` map's value: each extern's value from the running kernel, 0 for weak
 * externs the kernel does not set.
 * @throws ObjectError (`ERR_BPFMAP_OBJECT_KSYM`) for a strong extern the kernel does not set, or a
 *   value that does not fit the extern's C type.
 */
export function kconfigValue(btf: Btf, externs: readonly KconfigExtern[], size: number): Uint8Array {
  const value = new Uint8Array(size);
  for (const extern of externs) {
    const raw = rawValue(extern.name);
    if (raw === undefined) {
      if (extern.weak) continue;
      throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `kconfig extern is not set by this kernel (config from ${kernelConfigPath() ?? 'nowhere: no /proc/config.gz or /boot/config-*'}); declare it __weak to read 0 instead`, { symbol: extern.name, section: '.kconfig' });
    }
    encode(btf, extern, raw, value);
  }
  return value;
}

function rawValue(name: string): string | undefined {
  switch (name) {
    case 'LINUX_KERNEL_VERSION': return String(kernelVersionCode());
    case 'LINUX_HAS_BPF_COOKIE': return 'y';
    case 'LINUX_HAS_SYSCALL_WRAPPER': return hasSyscallWrapper() ? 'y' : 'n';
  }
  if (!name.startsWith('CONFIG_')) return undefined;
  // An option the configuration does not mention at all is unknown to this kernel: a strong
  // extern of it fails the load, as under libbpf, rather than silently reading 0.
  return kernelConfig().get(name);
}

function encode(btf: Btf, extern: KconfigExtern, raw: string, target: Uint8Array): void {
  const type = btf.resolve(extern.typeId);
  const fail = (why: string): never => {
    throw new ObjectError('ERR_BPFMAP_OBJECT_KSYM', `kconfig value '${raw}' ${why}`, { symbol: extern.name, section: '.kconfig' });
  };
  const tristate = raw === 'y' ? 1n : raw === 'n' ? 0n : raw === 'm' ? 2n : undefined;
  if (type.kind === 'enum' && type.name === 'libbpf_tristate') {
    if (tristate === undefined) fail('is not y, n or m for an enum libbpf_tristate');
    writeInt(target, extern.offset, extern.size, tristate ?? 0n);
    return;
  }
  if (type.kind === 'int' && type.bool) {
    if (raw !== 'y' && raw !== 'n') fail('is not y or n for a bool');
    writeInt(target, extern.offset, 1, raw === 'y' ? 1n : 0n);
    return;
  }
  if (type.kind === 'int' && type.size === 1 && tristate !== undefined) {
    target[extern.offset] = raw.charCodeAt(0);
    return;
  }
  if (type.kind === 'array') {
    const quoted = /^"(.*)"$/.exec(raw);
    if (!quoted) fail('is not a string for a char array');
    const bytes = Buffer.from(quoted?.[1] ?? '', 'latin1').subarray(0, extern.size - 1);
    target.set(bytes, extern.offset);
    return;
  }
  if (type.kind === 'int' || type.kind === 'enum') {
    if (tristate !== undefined) {
      if (raw === 'm') fail('(a module) has no integer value');
      writeInt(target, extern.offset, extern.size, tristate);
      return;
    }
    let number: bigint;
    try {
      number = BigInt(raw);
    } catch {
      return fail('is not an integer');
    }
    writeInt(target, extern.offset, extern.size, number);
    return;
  }
  fail(`cannot be stored in a ${type.kind}`);
}
