/**
 * USDT attach (`SEC("usdt/PATH:PROVIDER:NAME")`), compatible with libbpf's `<bpf/usdt.bpf.h>`:
 * every site of the probe in the binary (a probe inlined twice has two) gets a uprobe on its
 * `nop`, with the probe's semaphore as the uprobe's reference counter (the kernel increments it
 * while attached, so `if (PROVIDER_NAME_ENABLED())` code runs), and a BPF cookie carrying the
 * spec id under which `usdt-spec.ts` wrote how to read the site's arguments.
 *
 * Like libbpf, all sites go into one uprobe_multi link when the program was loaded for it (the
 * loader does so for `usdt` sections on Linux 6.6+); otherwise a single site gets a uprobe perf
 * link. Either way the result is one `Link`: closing it detaches every site, and it can be pinned.
 */
import { Errno, argumentError } from '../../sys/errors.js';
import { AttachType } from '../../sys/program-types.js';
import type { BpfMap } from '../../map/bpf-map.js';
import type { BpfProgram } from '../program.js';
import { ElfFormatError } from './elf-symbols.js';
import { BpfAttachError } from './errors.js';
import { Link, subjectOf } from './link.js';
import { checkPid, createPerfLink, probeScope } from './perf-link.js';
import { probePmu } from './pmu.js';
import { resolveBinary } from './uprobe.js';
import { createUprobeMultiLink } from './uprobe-multi.js';
import { EM_X86_64, readUsdtProbes, type UsdtProbe } from './usdt-notes.js';
import { encodeUsdtSpec, usdtSpecIds, usdtSpecMap } from './usdt-spec.js';

/** Which probe of which binary. */
export interface UsdtOptions {
  /** Path of the binary or shared library holding the probe; a bare name is looked up in PATH. */
  readonly binary: string;
  /** The probe's provider (`STAP_PROBE(provider, name, ...)`). */
  readonly provider: string;
  /** The probe's name. */
  readonly name: string;
  /** Only this process (default: every process running the binary). */
  readonly pid?: number;
  /** A value the program reads with `bpf_usdt_cookie(ctx)` (the BPF cookie itself carries the spec id). */
  readonly cookie?: bigint;
  /** The object's `__bpf_usdt_specs` map, for programs not loaded through `BpfObject` (opened from a pin). */
  readonly specMap?: BpfMap<unknown, unknown>;
}

function probeList(probes: readonly UsdtProbe[]): string {
  const names = [...new Set(probes.map((p) => `${p.provider}:${p.name}`))];
  if (names.length === 0) return 'it has no USDT probes (.note.stapsdt)';
  const shown = names.slice(0, 40).join(', ');
  return `its probes: ${shown}${names.length > 40 ? `, ... (${names.length} in all)` : ''}`;
}

/**
 * Attaches a `usdt` program (built with `<bpf/usdt.bpf.h>`, reading arguments through
 * `bpf_usdt_arg()` or `BPF_USDT()`) to every site of one USDT probe. x86-64 only.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_USDT_PROBE` when the binary has no such probe (the
 * message lists those it has), `ERR_BPFMAP_ATTACH_USDT_ARGUMENT` naming an argument operand it
 * cannot read, `ERR_BPFMAP_ATTACH_USDT_MAPS` when the object has no `__bpf_usdt_specs` map,
 * `ERR_BPFMAP_ATTACH_BINARY`, `ERR_BPFMAP_ATTACH_UNSUPPORTED` (not x86-64, no uprobes).
 *
 * @example
 * using link = attachUsdt(object.program('on_query'), { binary: '/usr/sbin/mysqld', provider: 'mysql', name: 'query__start' });
 */
export function attachUsdt(program: BpfProgram, options: UsdtOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.binary !== 'string' || options.binary === '' || typeof options.provider !== 'string' || options.provider === '' || typeof options.name !== 'string' || options.name === '') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachUsdt: options must be { binary, provider, name, pid?, cookie? } with non-empty strings');
  }
  if (options.cookie !== undefined && (typeof options.cookie !== 'bigint' || options.cookie < -(1n << 63n) || options.cookie >= 1n << 64n)) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `usdt cookie must be a 64-bit bigint, got ${String(options.cookie)}`);
  }
  checkPid(options.pid);
  const subject = subjectOf(program, 'usdt', `${options.binary}:${options.provider}:${options.name}`);
  if (process.arch !== 'x64') {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', `USDT attach reads x86-64 argument operands only; this is ${process.arch}`);
  }
  const path = resolveBinary(options.binary, subject);
  let read;
  try {
    read = readUsdtProbes(path);
  } catch (error) {
    if (error instanceof ElfFormatError || (error as NodeJS.ErrnoException).code !== undefined) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `${path}: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
  if (read.machine !== EM_X86_64) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', `${path} is not an x86-64 binary (e_machine ${read.machine}): USDT attach reads x86-64 operands only`);
  }
  const sites = read.probes.filter((p) => p.provider === options.provider && p.name === options.name);
  if (sites.length === 0) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_PROBE', `${path} has no USDT probe ${options.provider}:${options.name}; ${probeList(read.probes)}`);
  }
  for (const site of sites) {
    if (site.unsupportedArgument !== undefined) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_USDT_ARGUMENT', `the site at 0x${site.address.toString(16)} has an argument bpfmap cannot read: ${site.unsupportedArgument}`);
    }
  }
  const encoded = sites.map((site) => encodeUsdtSpec(site.arguments, site.argumentText, options.cookie ?? 0n, subject));
  const specMap = usdtSpecMap(program, subject, options.specMap);
  const multi = program.attachType === AttachType.trace_uprobe_multi;
  if (!multi && sites.length > 1) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', `the probe has ${sites.length} sites, which take one uprobe_multi link (Linux 6.6+); the program was not loaded for uprobe_multi (expected attach type trace_uprobe_multi)`);
  }
  const ids = usdtSpecIds(specMap, encoded, subject);
  const origin = { program: program.name, kind: 'usdt', target: subject.target ?? '' };
  if (multi) {
    const offsets = BigUint64Array.from(sites, (s) => s.fileOffset);
    const semaphores = sites.some((s) => s.semaphoreFileOffset !== 0n) ? BigUint64Array.from(sites, (s) => s.semaphoreFileOffset) : null;
    const cookies = BigUint64Array.from(ids, (id) => BigInt(id));
    return createUprobeMultiLink(program, subject, { path, offsets, semaphores, cookies, pid: options.pid ?? 0, retprobe: false }, origin, `offsets ${[...offsets].join(', ')} of ${path} cannot be probed`);
  }
  const site = sites[0]!;
  const pmu = probePmu('uprobe');
  if (pmu === undefined) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', 'the kernel has no uprobe PMU at /sys/bus/event_source/devices/uprobe (built without CONFIG_UPROBE_EVENTS)');
  }
  if (site.semaphoreFileOffset > 0xffffffffn) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `the semaphore's file offset 0x${site.semaphoreFileOffset.toString(16)} does not fit perf_event_attr's 32 bits`);
  return createPerfLink(
    program,
    subject,
    {
      type: pmu.type,
      // config bits 32-63: the semaphore's file offset (the uprobe PMU's ref_ctr_offset format).
      config: site.semaphoreFileOffset << 32n,
      name: path,
      config2: site.fileOffset,
      ...probeScope(options.pid),
      samplePeriod: 0n,
      frequency: false,
      cookie: BigInt(ids[0]!),
    },
    { open: (errno) => (errno === Errno.EINVAL ? `offset ${site.fileOffset} of ${path} cannot be probed (or its semaphore at ${site.semaphoreFileOffset})` : undefined) },
  );
}
