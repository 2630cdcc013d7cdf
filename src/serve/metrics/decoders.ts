/**
 * ebpf_exporter's label decoders: each turns the bytes of a key field (or the output of the previous
 * decoder in the chain) into new bytes, and the last output is the label value. Semantics follow
 * ebpf_exporter's decoder/*.go; the ones not implemented are refused when the configuration loads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { SYSCALLS_ARM64, SYSCALLS_X64 } from './syscalls.js';

/** A decoder's configuration (`decoders:` entries). */
export interface DecoderConfig {
  readonly name: string;
  readonly staticMap?: ReadonlyMap<string, string>;
  readonly regexps?: readonly RegExp[];
  readonly allowUnknown?: boolean;
}

/** Thrown by `regexp` when no expression matches: ebpf_exporter drops the whole label set. */
export class SkipLabelSet extends Error {
  constructor() {
    super('label set skipped');
  }
}

/** Decodes one field. */
export type Decoder = (input: Uint8Array, config: DecoderConfig) => Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function bytesOf(value: string): Uint8Array {
  return encoder.encode(value);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Go's strconv.Atoi on the decimal text a previous decoder produced. */
function atoi(input: Uint8Array, decoderName: string): number {
  const value = text(input);
  if (!/^[+-]?\d+$/.test(value)) throw new Error(`decoder '${decoderName}' needs a decimal number (chain a 'uint' decoder before it), got '${value}'`);
  return Number(value);
}

const uint: Decoder = (input) => {
  const v = view(input);
  switch (input.length) {
    case 8: return bytesOf(v.getBigUint64(0, true).toString());
    case 4: return bytesOf(String(v.getUint32(0, true)));
    case 2: return bytesOf(String(v.getUint16(0, true)));
    case 1: return bytesOf(String(input[0]));
    default: throw new Error(`uint decoder: unknown value length ${input.length}`);
  }
};

const string: Decoder = (input) => {
  const nul = input.indexOf(0);
  return nul === -1 ? input : input.subarray(0, nul);
};

const hex: Decoder = (input) => bytesOf(Buffer.from(input).toString('hex'));

const staticMap: Decoder = (input, config) => {
  if (config.staticMap === undefined) return bytesOf('empty mapping');
  const value = config.staticMap.get(text(input));
  if (value === undefined) return config.allowUnknown ? input : bytesOf(`unknown:${text(input)}`);
  return bytesOf(value);
};

const regexp: Decoder = (input, config) => {
  const value = text(input);
  for (const expression of config.regexps ?? []) {
    const match = expression.exec(value);
    if (match === null) continue;
    // The first group when the expression has exactly one, the whole match otherwise (Go's FindSubmatch).
    if (match.length === 2) return bytesOf(match[1] ?? '');
    if (match.length === 1) return bytesOf(match[0]);
  }
  throw new SkipLabelSet();
};

let partitionsCache: Map<number, string> | undefined;

const majorminor: Decoder = (input) => {
  // ebpf_exporter reads 4 bytes of a u32 and splits it with glibc's major()/minor().
  const dev = view(input).getUint32(0, true);
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  const key = major * 0x100000 + minor;
  const cached = partitionsCache?.get(key);
  if (cached !== undefined) return bytesOf(cached);
  let name = '';
  try {
    for (const line of readFileSync('/proc/partitions', 'utf8').split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (fields.length === 4 && fields[0] === String(major) && fields[1] === String(minor)) name = fields[3] as string;
    }
  } catch {
    // No /proc/partitions: every device is unknown.
  }
  if (name === '') return bytesOf(`unknown:${major}:${minor}`);
  (partitionsCache ??= new Map()).set(key, name);
  return bytesOf(name);
};

/** Go's net.IP.String(): dotted IPv4, RFC 5952 IPv6 (IPv4-mapped addresses dotted). */
export function ipText(input: Uint8Array): string {
  if (input.length === 4) return Array.from(input).join('.');
  if (input.length !== 16) return input.length === 0 ? '<nil>' : `?${Buffer.from(input).toString('hex')}`;
  const mapped = input.subarray(0, 10).every((b) => b === 0) && input[10] === 0xff && input[11] === 0xff;
  if (mapped) return Array.from(input.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((input[i] as number) << 8) | (input[i + 1] as number));
  // The longest run of two or more zero groups becomes '::' (the first such run on ties).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hexGroups = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hexGroups.join(':');
  return `${hexGroups.slice(0, bestStart).join(':')}::${hexGroups.slice(bestStart + bestLength).join(':')}`;
}

const inetIp: Decoder = (input) => bytesOf(ipText(input));

/** /proc/kallsyms, sorted by address, loaded once. */
class KernelSymbols {
  readonly addresses: bigint[] = [];
  readonly names: string[] = [];

  constructor(file = '/proc/kallsyms') {
    const entries: Array<[bigint, string]> = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const parts = line.split(' ');
      if (parts.length < 3) continue;
      entries.push([BigInt(`0x${parts[0] as string}`), parts[2] as string]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [address, name] of entries) {
      this.addresses.push(address);
      this.names.push(name);
    }
  }

  /** The symbol at or just before `address`, '' when none. */
  lookup(address: bigint): string {
    let low = 0;
    let high = this.addresses.length - 1;
    if (high < 0 || (this.addresses[0] as bigint) > address) return '';
    while (low < high) {
      const mid = low + Math.ceil((high - low) / 2);
      if ((this.addresses[mid] as bigint) <= address) low = mid;
      else high = mid - 1;
    }
    return this.names[low] as string;
  }
}

let kernelSymbols: KernelSymbols | undefined;

/** Loads /proc/kallsyms (the configuration does it at start, as ebpf_exporter does). */
export function loadKernelSymbols(): void {
  kernelSymbols ??= new KernelSymbols();
}

const ksym: Decoder = (input) => {
  loadKernelSymbols();
  const address = view(input).getBigUint64(0, true);
  const name = (kernelSymbols as KernelSymbols).lookup(address);
  return bytesOf(name === '' ? `unknown_addr:0x${address.toString(16)}` : name);
};

/** The syscall table of this machine's architecture, undefined when there is none. */
export function syscallTable(): ReadonlyMap<number, string> | undefined {
  return process.arch === 'x64' ? SYSCALLS_X64 : process.arch === 'arm64' ? SYSCALLS_ARM64 : undefined;
}

const syscall: Decoder = (input) => {
  const number = atoi(input, 'syscall');
  return bytesOf(syscallTable()?.get(number) ?? `unknown_syscall:${number}`);
};

const CGROUP_ROOT = '/sys/fs/cgroup';
let cgroupPaths = new Map<number, string>();

function walkCgroups(dir: string, into: Map<number, string>): void {
  let entries;
  try {
    into.set(statSync(dir).ino, dir);
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // cgroups come and go while we walk
  }
  for (const entry of entries) if (entry.isDirectory()) walkCgroups(path.join(dir, entry.name), into);
}

const cgroup: Decoder = (input) => {
  const id = atoi(input, 'cgroup');
  let found = cgroupPaths.get(id);
  if (found === undefined) {
    // A cgroup v2 id is its directory's inode number; walk again for cgroups created since.
    const fresh = new Map<number, string>();
    walkCgroups(CGROUP_ROOT, fresh);
    cgroupPaths = fresh;
    found = fresh.get(id);
  }
  return bytesOf(found ?? `unknown_cgroup_id:${id}`);
};

/** The decoders bpfmap implements, by ebpf_exporter's names. */
export const DECODERS: ReadonlyMap<string, Decoder> = new Map([
  ['uint', uint],
  ['string', string],
  ['hex', hex],
  ['static_map', staticMap],
  ['regexp', regexp],
  ['majorminor', majorminor],
  ['inet_ip', inetIp],
  ['ksym', ksym],
  ['syscall', syscall],
  ['cgroup', cgroup],
]);

/** ebpf_exporter decoders bpfmap does not implement: a configuration naming one is refused. */
export const UNSUPPORTED_DECODERS: readonly string[] = ['dname', 'errno', 'ifname', 'kstack', 'pci_class', 'pci_device', 'pci_subclass', 'pci_vendor'];

/** Runs a label's decoder chain over its field; the label value as text. */
export function decodeLabel(input: Uint8Array, chain: readonly DecoderConfig[]): string {
  let bytes = input;
  for (const config of chain) bytes = (DECODERS.get(config.name) as Decoder)(bytes, config);
  return text(bytes);
}
