/**
 * Attaching a whole object's programs at once, as a skeleton's `attach(targets)` does: every
 * program its section name says how to attach (libbpf's auto-attach), and the programs whose
 * section names no target — XDP and tcx (an interface), cgroup programs (a cgroup) — where the
 * caller says, by program name. libbpf's skeleton skips those silently; here a program that needs
 * a target and has none is an error naming the program and what it needs, and `false` leaves a
 * program unattached on purpose.
 */
import { AttachType, ProgramType } from '../sys/program-types.js';
import { argumentError } from '../sys/errors.js';
import { attachProgram } from './link/attach.js';
import { BpfAttachError } from './link/errors.js';
import type { Link } from './link/link.js';
import type { NetworkInterface } from './link/netdev.js';
import { sectionTarget } from './link/section.js';
import type { BpfProgram } from './program.js';

/** Where an XDP or tcx program attaches. */
export interface InterfaceTarget {
  /** Interface name or index. */
  readonly interface: NetworkInterface;
}

/** Where a cgroup program attaches. */
export interface CgroupTarget {
  /** The cgroup v2 directory (`/sys/fs/cgroup/...`). */
  readonly cgroup: string;
}

/** What a uprobe applies to. */
export interface ProcessTarget {
  /** Only this process (default: every process running the binary). */
  readonly pid?: number;
}

/** One program's entry in `attachPrograms`' targets; `false` leaves the program unattached. */
export type ProgramTarget = InterfaceTarget | CgroupTarget | ProcessTarget | false;

/** What a program needs to be told before it can attach: an interface, a cgroup, or nothing. */
export type RequiredTarget = 'interface' | 'cgroup' | undefined;

const tcxTypes = new Set<number>([AttachType.tcx_ingress, AttachType.tcx_egress]);

/**
 * The target a program must be given to attach, from its type, expected attach type and section
 * name (a spec's or a loaded program's): `'interface'` for XDP and tcx programs, `'cgroup'` for
 * `cgroup*` sections with an attach type, undefined for every program whose section says where
 * (or that cannot be attached by section at all, as libbpf's skeleton skips them).
 */
export function requiredTarget(program: { readonly type: number; readonly attachType: number | undefined; readonly sectionName: string | undefined }): RequiredTarget {
  const section = program.sectionName;
  if (section === undefined) return undefined;
  let target;
  try {
    target = sectionTarget(section);
  } catch {
    return undefined;
  }
  if (target.kind !== 'none') return undefined;
  if (program.type === ProgramType.xdp) return 'interface';
  if (program.type === ProgramType.sched_cls && program.attachType !== undefined && tcxTypes.has(program.attachType)) return 'interface';
  if (program.attachType !== undefined && section.startsWith('cgroup')) return 'cgroup';
  return undefined;
}

/** True when `section` is a uprobe or USDT section (the only targets that take a pid). */
export function takesProcess(sectionName: string | undefined): boolean {
  if (sectionName === undefined) return false;
  try {
    const kind = sectionTarget(sectionName).kind;
    return kind === 'uprobe' || kind === 'uprobe_multi' || kind === 'usdt';
  } catch {
    return false;
  }
}

function describeTarget(target: unknown): string {
  if (target === undefined) return 'nothing';
  try {
    return JSON.stringify(target) ?? String(target);
  } catch {
    return String(target);
  }
}

/**
 * Attaches every program of `programs` (a loaded object's), all or none: when one attach fails,
 * the links made before it are closed and the error is thrown. `targets` names, by program, the
 * interface or cgroup of programs whose section names no target, a pid for uprobes, or `false` to
 * skip a program.
 *
 * @example
 * const links = attachPrograms(object.programs, { xdp_count: { interface: 'veth0' }, cg_egress: { cgroup: '/sys/fs/cgroup/app' } });
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_TARGET` naming the program and the target it needs
 * (an interface or a cgroup) when it has none or one of the wrong kind; whatever each attach throws.
 * @throws RangeError `ERR_BPFMAP_OPTIONS` for a target naming no program of the object.
 */
export function attachPrograms<T extends { readonly [K in keyof T]?: ProgramTarget }>(programs: ReadonlyMap<string, BpfProgram>, targetsByName?: T, knownNames?: ReadonlySet<string>): Link[] {
  // An interface (a skeleton's) has no index signature: read it as a record here.
  const targets = (targetsByName ?? {}) as Readonly<Record<string, ProgramTarget | undefined>>;
  if (targets === null || typeof targets !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `attach targets must be an object keyed by program name, got ${describeTarget(targets)}`);
  const unknown = Object.keys(targets).filter((name) => !programs.has(name) && !knownNames?.has(name));
  if (unknown.length > 0) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `attach targets name no program of the object: ${unknown.join(', ')} (programs: ${[...programs.keys()].join(', ') || 'none'})`);
  }
  const links: Link[] = [];
  try {
    for (const [name, program] of programs) {
      const target = targets[name];
      if (target === false) continue;
      if (target !== undefined && (target === null || typeof target !== 'object')) {
        throw new BpfAttachError({ program: name, kind: 'auto' }, 'ERR_BPFMAP_ATTACH_TARGET', `the target must be an object ({ interface }, { cgroup } or { pid }) or false, got ${describeTarget(target)}`);
      }
      const needs = requiredTarget(program);
      const section = program.sectionName ?? '?';
      if (needs === 'interface' && (target === undefined || !('interface' in target) || target.interface === undefined)) {
        throw new BpfAttachError({ program: name, kind: program.typeName }, 'ERR_BPFMAP_ATTACH_TARGET', `section '${section}' names no interface: pass one, e.g. attach({ ${name}: { interface: 'eth0' } }), or ${name}: false to leave it unattached (got ${describeTarget(target)})`);
      }
      if (needs === 'cgroup' && (target === undefined || !('cgroup' in target) || typeof target.cgroup !== 'string')) {
        throw new BpfAttachError({ program: name, kind: program.typeName }, 'ERR_BPFMAP_ATTACH_TARGET', `section '${section}' names no cgroup: pass one, e.g. attach({ ${name}: { cgroup: '/sys/fs/cgroup/app' } }), or ${name}: false to leave it unattached (got ${describeTarget(target)})`);
      }
      if (needs === undefined && target !== undefined && ('interface' in target || 'cgroup' in target)) {
        throw new BpfAttachError({ program: name, kind: program.typeName }, 'ERR_BPFMAP_ATTACH_TARGET', `section '${section}' says where it attaches (or cannot be attached by section): it takes no interface or cgroup (got ${describeTarget(target)})`);
      }
      if (target !== undefined && 'pid' in target && !takesProcess(program.sectionName)) {
        throw new BpfAttachError({ program: name, kind: program.typeName }, 'ERR_BPFMAP_ATTACH_TARGET', `section '${section}' is not a uprobe: it takes no pid (got ${describeTarget(target)})`);
      }
      const link = attachProgram(program, target ?? {});
      if (link) links.push(link);
    }
  } catch (error) {
    for (const link of links) link.close();
    throw error;
  }
  return links;
}
