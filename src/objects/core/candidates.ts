/**
 * Candidate search: the kernel types a local type may correspond to, found by essential name
 * (`___flavor` dropped on both sides) and kind (enum and enum64 mix), in type-id order, as libbpf's
 * `bpf_core_add_cands` scans. Each target BTF gets an index from essential name to ids once (one
 * pass over its names, no type decoded), so that a search costs a map lookup instead of libbpf's
 * scan of every kernel type.
 */
import { readdirSync } from 'node:fs';
import type { Btf } from '../../codec/btf/btf.js';
import { btfFromFile, kernelBtf, VMLINUX_BTF_PATH } from '../../codec/btf/sources.js';
import { essentialName, kindsCoreCompatible } from './compat.js';

/** A BTF to relocate against, and what to call it in messages. */
export interface CoreTargetBtf {
  /** `'vmlinux'` or a module's name. */
  readonly name: string;
  readonly btf: Btf;
}

/** One kernel type that may correspond to a local type. */
export interface CoreCandidate {
  readonly target: CoreTargetBtf;
  readonly id: number;
}

const indexes = new WeakMap<Btf, Map<string, number[]>>();

/** Essential name → ids (this blob's own types, not its base's), in id order. */
function essentialIndex(btf: Btf): Map<string, number[]> {
  let index = indexes.get(btf);
  if (index) return index;
  index = new Map();
  for (const [name, ids] of btf.namedTypeIds()) {
    const key = essentialName(name);
    const list = index.get(key);
    if (list) list.push(...ids);
    else index.set(key, [...ids]);
  }
  for (const list of index.values()) list.sort((a, b) => a - b);
  indexes.set(btf, index);
  return index;
}

/** Kernel types with the local type's essential name and a compatible kind, in id order. */
export function findCandidates(local: Btf, localId: number, target: CoreTargetBtf): CoreCandidate[] {
  const localType = local.type(localId);
  const ids = essentialIndex(target.btf).get(essentialName(localType.name)) ?? [];
  const found: CoreCandidate[] = [];
  for (const id of ids) if (kindsCoreCompatible(target.btf.kindOf(id), localType.kind)) found.push({ target, id });
  return found;
}

/** The running kernel's BTF. */
export function vmlinuxTarget(): CoreTargetBtf {
  return { name: 'vmlinux', btf: kernelBtf() };
}

/**
 * The BTF of every loaded kernel module (`/sys/kernel/btf/<module>`, split over vmlinux), parsed
 * lazily. Unreadable entries are skipped: a module may unload while we list them.
 */
export function moduleTargets(): CoreTargetBtf[] {
  const folder = VMLINUX_BTF_PATH.slice(0, VMLINUX_BTF_PATH.lastIndexOf('/'));
  const targets: CoreTargetBtf[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return targets;
  }
  for (const name of names.sort()) {
    if (name === 'vmlinux') continue;
    try {
      targets.push({ name, btf: btfFromFile(`${folder}/${name}`) });
    } catch {
      // Gone or unreadable: libbpf skips such modules too.
    }
  }
  return targets;
}
