/**
 * The BPF side of USDT, as libbpf's `<bpf/usdt.bpf.h>` reads it: an array map
 * `__bpf_usdt_specs` of `struct __bpf_usdt_spec` (how to fetch each argument of one probe site
 * from `struct pt_regs`, the user's cookie, the argument count), indexed by a spec id that the
 * uprobe's BPF cookie carries. This file encodes those structs for x86-64 and hands out spec ids.
 *
 * ```c
 * struct __bpf_usdt_arg_spec { __u64 val_off; enum __bpf_usdt_arg_type arg_type; short reg_off;
 *                              bool arg_signed; char arg_bitshift; };            // 16 bytes
 * struct __bpf_usdt_spec { struct __bpf_usdt_arg_spec args[12]; __u64 usdt_cookie; short arg_cnt; }; // 208
 * ```
 *
 * `__bpf_usdt_ip_to_spec_id` (instruction address → spec id) is read only when
 * `LINUX_HAS_BPF_COOKIE` is false. bpfmap sets that kconfig extern true, and rightly: BPF cookies
 * came with BPF perf links (Linux 5.15), which every uprobe attach of bpfmap uses, so that map
 * stays empty.
 */
import { bytesCodec } from '../../codec/codec.js';
import type { BpfMap } from '../../map/bpf-map.js';
import { MapType } from '../../sys/constants.js';
import type { BpfProgram } from '../program.js';
import { objectMapsOf } from '../object-maps.js';
import { BpfAttachError, type AttachSubject } from './errors.js';
import type { UsdtArgument } from './usdt-notes.js';

/** The spec map's name in objects built with `usdt.bpf.h`. */
export const USDT_SPECS_MAP = '__bpf_usdt_specs';
/** BPF_USDT_MAX_ARG_CNT. */
export const USDT_MAX_ARGUMENTS = 12;

const ARG_SPEC_SIZE = 16;
const SPEC_SIZE = 208;
const COOKIE_AT = 192;
const COUNT_AT = 200;
/**
 * A padding byte after `arg_cnt` that bpfmap sets in every spec it writes: the BPF side never
 * reads it, and it makes a written spec never all-zero, so an all-zero entry is a free one even
 * in a spec map pinned and shared with another process.
 */
const IN_USE_AT = 207;

/** enum __bpf_usdt_arg_type. */
const ArgType = { constant: 0, register: 1, memory: 2 } as const;

/** offsetof(struct pt_regs, REG) on x86-64 (arch/x86/include/asm/ptrace.h). */
const X86_64_PT_REGS: Readonly<Record<string, number>> = {
  r15: 0, r14: 8, r13: 16, r12: 24, rbp: 32, rbx: 40, r11: 48, r10: 56, r9: 64, r8: 72,
  rax: 80, rcx: 88, rdx: 96, rsi: 104, rdi: 112, rip: 128, rsp: 152,
};

/**
 * The `__bpf_usdt_specs` map of `program`'s object, checked to be the array of 208-byte
 * `struct __bpf_usdt_spec` that `usdt.bpf.h` declares.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_USDT_MAPS` when the program came from no object, the
 * object has no such map (built without `usdt.bpf.h`), or it has another shape.
 */
export function usdtSpecMap(program: BpfProgram, subject: AttachSubject, given?: BpfMap<unknown, unknown>): BpfMap<unknown, unknown> {
  let map = given;
  if (map === undefined) {
    const maps = objectMapsOf(program);
    if (maps === undefined) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_MAPS', `the program was not loaded by BpfObject, so bpfmap does not know its ${USDT_SPECS_MAP} map: pass it as the specMap option`);
    }
    map = maps.get(USDT_SPECS_MAP) ?? [...maps.values()].find((m) => m.name === USDT_SPECS_MAP.slice(0, 15));
    if (map === undefined) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_MAPS', `the object has no ${USDT_SPECS_MAP} map: build the program with #include <bpf/usdt.bpf.h> and read arguments with bpf_usdt_arg() / BPF_USDT() (maps: ${[...maps.keys()].join(', ') || 'none'})`);
    }
  }
  const info = map.info;
  if (info.type !== MapType.array || info.keySize !== 4 || info.valueSize !== SPEC_SIZE) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_MAPS', `${USDT_SPECS_MAP} must be an array of ${SPEC_SIZE}-byte struct __bpf_usdt_spec with 4-byte keys, got a ${info.typeName} with ${info.keySize}-byte keys and ${info.valueSize}-byte values (another usdt.bpf.h layout?)`);
  }
  return map;
}

/**
 * Encodes one probe site's `struct __bpf_usdt_spec`: each argument as a constant, a register's
 * pt_regs offset, or a register plus an offset to dereference, with the shift that narrows and
 * sign-extends 1-, 2- and 4-byte arguments.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_USDT_ARGUMENT` naming an argument it cannot express.
 */
export function encodeUsdtSpec(args: readonly UsdtArgument[], argumentText: string, cookie: bigint, subject: AttachSubject): Uint8Array {
  if (args.length > USDT_MAX_ARGUMENTS) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_ARGUMENT', `the probe has ${args.length} arguments ('${argumentText}'); usdt.bpf.h reads at most ${USDT_MAX_ARGUMENTS}`);
  }
  const bytes = new Uint8Array(SPEC_SIZE);
  const view = new DataView(bytes.buffer);
  args.forEach((arg, index) => {
    const at = index * ARG_SPEC_SIZE;
    let type: number;
    let valueOrOffset = 0n;
    let registerOffset = 0;
    if (arg.kind === 'constant') {
      type = ArgType.constant;
      valueOrOffset = BigInt.asUintN(64, arg.value);
    } else {
      const offset = X86_64_PT_REGS[arg.register];
      if (offset === undefined) {
        throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_ARGUMENT', `argument ${index + 1} of '${argumentText}' uses %${arg.register}, which struct pt_regs does not hold`);
      }
      registerOffset = offset;
      type = arg.kind === 'register' ? ArgType.register : ArgType.memory;
      if (arg.kind === 'memory') valueOrOffset = BigInt.asUintN(64, BigInt(arg.offset));
    }
    view.setBigUint64(at, valueOrOffset, true);
    view.setUint32(at + 8, type, true);
    view.setInt16(at + 12, registerOffset, true);
    bytes[at + 14] = arg.signed ? 1 : 0;
    bytes[at + 15] = 64 - arg.size * 8;
  });
  view.setBigUint64(COOKIE_AT, BigInt.asUintN(64, cookie), true);
  view.setInt16(COUNT_AT, args.length, true);
  bytes[IN_USE_AT] = 1;
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The spec id of `spec` in `specs`: the entry that holds the same bytes already (sites with the
 * same arguments and cookie share one, as libbpf shares them), else the first all-zero entry,
 * written now. Entries are never cleared: an id may be in use by a pinned link of this or
 * another process, and the map holds at most as many entries as distinct specs.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_USDT_MAPS` when the map is full.
 */
export function usdtSpecIds(specs: BpfMap<unknown, unknown>, encoded: readonly Uint8Array[], subject: AttachSubject): number[] {
  const raw = specs.withCodecs<Uint8Array, Uint8Array>(bytesCodec(4), bytesCodec(SPEC_SIZE));
  try {
    const entries: Uint8Array[] = [];
    const maxEntries = raw.info.maxEntries;
    const key = new Uint8Array(4);
    const keyView = new DataView(key.buffer);
    for (let id = 0; id < maxEntries; id++) {
      keyView.setUint32(0, id, true);
      entries.push(Uint8Array.from(raw.get(key) ?? new Uint8Array(SPEC_SIZE)));
    }
    return encoded.map((spec) => {
      const existing = entries.findIndex((entry) => sameBytes(entry, spec));
      if (existing >= 0) return existing;
      const free = entries.findIndex((entry) => entry.every((b) => b === 0));
      if (free < 0) {
        throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_MAPS', `${USDT_SPECS_MAP} is full (${maxEntries} distinct probe specs): define BPF_USDT_MAX_SPEC_CNT larger before including usdt.bpf.h`);
      }
      keyView.setUint32(0, free, true);
      raw.set(key, spec);
      entries[free] = spec;
      return free;
    });
  } finally {
    raw.close();
  }
}
