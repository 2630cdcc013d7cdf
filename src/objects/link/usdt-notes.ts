/**
 * USDT probes (`DTRACE_PROBE`/`STAP_PROBE` in C, SystemTap's `sys/sdt.h`) of an ELF64 binary:
 * the `.note.stapsdt` notes, each naming a provider, a probe name, the probe's address (a `nop`
 * a uprobe goes on), an optional semaphore, and its arguments as assembler operands
 * (`-4@%eax 8@-16(%rbp) 4@$5`). Addresses are corrected for prelinking through `.stapsdt.base`
 * as libbpf does, and turned into the file offsets uprobes take.
 *
 * `usdt.ts` attaches programs to them, filling the spec map libbpf's `usdt.bpf.h` reads.
 */
import { readFileSync } from 'node:fs';
import { ElfFormatError, elfSections } from './elf-symbols.js';

/** How one USDT argument is found when the probe fires (x86-64 operand forms). */
export type UsdtArgument =
  /** `%reg`: a register's value. */
  | { readonly kind: 'register'; readonly size: number; readonly signed: boolean; readonly register: string }
  /** `off(%reg)`: memory at a register plus an offset. */
  | { readonly kind: 'memory'; readonly size: number; readonly signed: boolean; readonly register: string; readonly offset: number }
  /** `$imm`: a constant. */
  | { readonly kind: 'constant'; readonly size: number; readonly signed: boolean; readonly value: bigint };

/** One USDT probe site. */
export interface UsdtProbe {
  readonly provider: string;
  readonly name: string;
  /** The probe's virtual address, corrected through `.stapsdt.base`. */
  readonly address: bigint;
  /** Where the address lies in the file: a uprobe's offset. */
  readonly fileOffset: bigint;
  /** The semaphore's address (0: none); a probe with one runs only while it is non-zero. */
  readonly semaphore: bigint;
  /** Where the semaphore lies in the file (0: none): what a uprobe's `ref_ctr_offset` means. */
  readonly semaphoreFileOffset: bigint;
  /** The argument string as the note holds it. */
  readonly argumentText: string;
  /** The arguments, parsed; empty when `unsupportedArgument` is set. */
  readonly arguments: readonly UsdtArgument[];
  /** The first argument bpfmap cannot read (`4@counter(%rip)`, `1@%ah`, ...) and why; the probe cannot be attached. */
  readonly unsupportedArgument?: string;
}

const SHT_NOTE = 7;
const NT_STAPSDT = 3;
const SHF_EXECINSTR = 0x4;
const SHF_ALLOC = 0x2;
const SHT_NOBITS = 8;
/** e_machine of x86-64: the only architecture whose operands bpfmap reads. */
export const EM_X86_64 = 62;

/** x86-64 register names as operands spell them (any width) → the 64-bit register. */
const X86_REGISTERS: Record<string, string> = (() => {
  const table: Record<string, string> = {};
  for (const r of ['ax', 'bx', 'cx', 'dx']) {
    const base = r[0] as string;
    // %ah..%dh (bits 8-15) have no pt_regs slot of their own: left out, so they are reported unsupported, as libbpf does.
    for (const alias of [`r${r}`, `e${r}`, r, `${base}l`]) table[alias] = `r${r}`;
  }
  for (const r of ['si', 'di', 'bp', 'sp']) for (const alias of [`r${r}`, `e${r}`, r, `${r}l`]) table[alias] = `r${r}`;
  table.rip = 'rip';
  table.eip = 'rip';
  for (let n = 8; n <= 15; n++) for (const alias of [`r${n}`, `r${n}d`, `r${n}w`, `r${n}b`]) table[alias] = `r${n}`;
  return table;
})();

function registerOf(name: string, argument: string): string {
  const register = X86_REGISTERS[name];
  if (!register) throw new ElfFormatError(`USDT argument '${argument}': unknown register %${name}`);
  return register;
}

/** Parses one `SIZE@OPERAND` argument (libbpf's parse_usdt_arg for x86-64). */
export function parseUsdtArgument(text: string): UsdtArgument {
  const at = text.indexOf('@');
  const sizeText = at > 0 ? text.slice(0, at) : '';
  const size = Number(sizeText);
  if (!/^-?(1|2|4|8)$/.test(sizeText)) throw new ElfFormatError(`USDT argument '${text}': expected SIZE@OPERAND with SIZE one of ±1, 2, 4, 8`);
  const operand = text.slice(at + 1);
  const signed = size < 0;
  const bytes = Math.abs(size);
  let match: RegExpExecArray | null;
  if ((match = /^%([a-z0-9]+)$/.exec(operand))) return { kind: 'register', size: bytes, signed, register: registerOf(match[1] as string, text) };
  if ((match = /^(-?(?:0x[0-9a-f]+|\d+))?\(%([a-z0-9]+)\)$/i.exec(operand))) {
    return { kind: 'memory', size: bytes, signed, register: registerOf(match[2] as string, text), offset: match[1] ? Number(match[1]) : 0 };
  }
  if ((match = /^\$(-?(?:0x[0-9a-f]+|\d+))$/i.exec(operand))) {
    const literal = match[1] as string;
    const value = literal.startsWith('-') ? -BigInt(literal.slice(1)) : BigInt(literal);
    return { kind: 'constant', size: bytes, signed, value };
  }
  throw new ElfFormatError(`USDT argument '${text}': operand '${operand}' is not %reg, off(%reg) or $imm`);
}

/**
 * The USDT probes of an ELF64 binary or shared library, in note order.
 * @throws ElfFormatError for a file that is not ELF64, malformed notes, or arguments it cannot read.
 *
 * @example
 * for (const probe of usdtProbes('/usr/bin/python3')) console.log(probe.provider, probe.name, probe.fileOffset);
 */
export function usdtProbes(binary: string | Uint8Array): UsdtProbe[] {
  return readUsdtProbes(binary).probes;
}

/** @internal The probes and the file's e_machine (attach refuses what is not x86-64). */
export function readUsdtProbes(binary: string | Uint8Array): { probes: UsdtProbe[]; machine: number } {
  const file = typeof binary === 'string' ? new Uint8Array(readFileSync(binary)) : binary;
  const { sections: list, le, view, machine } = elfSections(file);
  const baseSection = list.find((s) => s.name === '.stapsdt.base');
  const probes: UsdtProbe[] = [];
  for (const notes of list.filter((s) => s.type === SHT_NOTE && s.name === '.note.stapsdt')) {
    if (notes.offset + notes.size > file.length) throw new ElfFormatError('.note.stapsdt runs past the end of the file');
    let at = notes.offset;
    const end = notes.offset + notes.size;
    while (at + 12 <= end) {
      const nameSize = view.getUint32(at, le);
      const descSize = view.getUint32(at + 4, le);
      const type = view.getUint32(at + 8, le);
      const nameStart = at + 12;
      const descStart = nameStart + ((nameSize + 3) & ~3);
      const next = descStart + ((descSize + 3) & ~3);
      if (next > end) throw new ElfFormatError('a .note.stapsdt note runs past its section');
      const owner = Buffer.from(file.subarray(nameStart, nameStart + Math.max(0, nameSize - 1))).toString('latin1');
      at = next;
      if (type !== NT_STAPSDT || owner !== 'stapsdt') continue;
      if (descSize < 24) throw new ElfFormatError('a stapsdt note is shorter than its three addresses');
      let address = view.getBigUint64(descStart, le);
      const noteBase = view.getBigUint64(descStart + 8, le);
      const semaphore = view.getBigUint64(descStart + 16, le);
      const strings = Buffer.from(file.subarray(descStart + 24, descStart + descSize)).toString('latin1').split('\0');
      const [provider = '', name = '', argumentText = ''] = strings;
      // Prelinked binaries moved .stapsdt.base: the note recorded where it was (libbpf does the same).
      if (baseSection && noteBase !== 0n) address = address - noteBase + baseSection.address;
      const text = list.find((s) => (s.flags & BigInt(SHF_EXECINSTR)) !== 0n && address >= s.address && address < s.address + BigInt(s.size));
      if (!text) throw new ElfFormatError(`USDT ${provider}:${name} at 0x${address.toString(16)} is in no executable section`);
      // Shared libraries and PIEs record link-time addresses; the semaphore lies in a data section
      // (`.probes`), so its file offset comes from the allocated section that holds it.
      let semaphoreFileOffset = 0n;
      if (semaphore !== 0n) {
        const holder = list.find((s) => (s.flags & BigInt(SHF_ALLOC)) !== 0n && s.type !== SHT_NOBITS && semaphore >= s.address && semaphore < s.address + BigInt(s.size));
        if (!holder) throw new ElfFormatError(`USDT ${provider}:${name}'s semaphore at 0x${semaphore.toString(16)} is in no section with file contents`);
        semaphoreFileOffset = semaphore - holder.address + BigInt(holder.offset);
      }
      let argumentsList: UsdtArgument[] = [];
      let unsupportedArgument: string | undefined;
      if (machine === EM_X86_64 && argumentText.trim() !== '') {
        try {
          argumentsList = argumentText.trim().split(/\s+/).map(parseUsdtArgument);
        } catch (error) {
          // One probe with an operand bpfmap cannot read must not hide the binary's other probes.
          if (!(error instanceof ElfFormatError)) throw error;
          unsupportedArgument = error.message;
        }
      } else if (machine !== EM_X86_64 && argumentText.trim() !== '') {
        unsupportedArgument = `arguments of e_machine ${machine} binaries are not read (x86-64 only)`;
      }
      const probe = { provider, name, address, fileOffset: address - text.address + BigInt(text.offset), semaphore, semaphoreFileOffset, argumentText, arguments: argumentsList };
      probes.push(unsupportedArgument === undefined ? probe : { ...probe, unsupportedArgument });
    }
  }
  return { probes, machine };
}
