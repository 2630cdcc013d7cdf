/**
 * Which object a loaded program came from, for attach kinds that fill the object's own maps
 * (USDT writes `__bpf_usdt_specs`). A side table rather than a field of `BpfProgram`, so that a
 * program stays a plain kernel handle and the table costs nothing to programs opened by pin or id.
 * No imports but types: the loader's entry points pay nothing for it.
 */
import type { BpfMap } from '../map/bpf-map.js';
import type { BpfProgram } from './program.js';

const objectMaps = new WeakMap<BpfProgram, () => ReadonlyMap<string, BpfMap<unknown, unknown>>>();

/** @internal Called by `BpfObject`: its maps (typed on first use) for each of its programs. */
export function rememberObjectMaps(programs: Iterable<BpfProgram>, maps: () => ReadonlyMap<string, BpfMap<unknown, unknown>>): void {
  for (const program of programs) objectMaps.set(program, maps);
}

/** @internal The maps of the object `program` was loaded with, or undefined for programs from a pin or id. */
export function objectMapsOf(program: BpfProgram): ReadonlyMap<string, BpfMap<unknown, unknown>> | undefined {
  return objectMaps.get(program)?.();
}
