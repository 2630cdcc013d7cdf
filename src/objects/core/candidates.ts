/**
 * Candidate search: the kernel types a local type may correspond to, found by essential name
 * (`___flavor` dropped on both sides) and kind (enum and enum64 mix), in type-id order, as libbpf's
 * `bpf_core_add_cands` scans. The relocator caches the result per local type.
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

/** Scan results per target BTF, by essential name and kind: kernel BTF does not change. */
const scans = new WeakMap<Btf, Map<string, number[]>>();

/**
 * Kernel types with the local type's essential name and a compatible kind, in id order: the
 * target's names are scanned by prefix without decoding (as libbpf scans every type), and only
 * the few names that share the prefix are decoded to compare essential names. Scans are cached
 * per target BTF; the list returned is the caller's to prune.
 */
export function findCandidates(local: Btf, localId: number, target: CoreTargetBtf): CoreCandidate[] {
  const localType = local.type(localId);
  const wanted = essentialName(localType.name);
  if (wanted === '') return [];
  let cache = scans.get(target.btf);
  if (!cache) scans.set(target.btf, (cache = new Map()));
  const key = `${localType.kind === 'enum64' ? 'enum' : localType.kind} ${wanted}`;
  let ids = cache.get(key);
  if (!ids) {
    ids = [];
    for (const id of target.btf.idsWithNamePrefix(wanted)) {
      if (kindsCoreCompatible(target.btf.kindOf(id), localType.kind) && essentialName(target.btf.type(id).name) === wanted) ids.push(id);
    }
    cache.set(key, ids);
  }
  return ids.map((id) => ({ target, id }));
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
