/**
 * `load OBJECT PATH [pinmaps MAP_DIR] [autoattach]`: bpftool's `prog loadall`. Loads every program
 * of the object and pins each as PATH/<program name>; with `pinmaps`, pins every map under MAP_DIR
 * with the name bpftool gives it (its kernel name, `.` turned into `_`: `obj_basi_rodata`); with
 * `autoattach`, attaches each program by its section name and pins the link at PATH/<program
 * name> instead (programs whose section names no target are pinned themselves), so the
 * attachment outlives this process and removing the pins detaches.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { OperationError } from '../grammar.js';
import { BpfObject } from '../../objects/object.js';

/** bpftool's pin name of a map under `pinmaps`: bpffs refuses `.` in names, so it becomes `_`. */
export function pinmapsName(mapName: string): string {
  return mapName.replace(/\./g, '_');
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const objectPath = args.next('object file');
  const pinPath = args.next('pin folder for the programs');
  let mapDir: string | undefined;
  let autoattach = false;
  while (!args.done) {
    if (args.accept('pinmaps')) mapDir = args.next('pin folder for the maps');
    else if (args.accept('autoattach')) autoattach = true;
    else throw new OperationError(`load: unexpected '${args.peek() ?? ''}' (expected 'pinmaps MAP_DIR' or 'autoattach')`);
  }
  args.end();
  options.end();
  // Maps pinned by name (LIBBPF_PIN_BY_NAME) go under MAP_DIR when one is given, else where libbpf puts them.
  // The attach modules (two dozen) load only for autoattach: a plain load does not pay for them.
  const attachProgram = autoattach ? (await import('../../objects/link/attach.js')).attachProgram : undefined;
  using object = BpfObject.load(objectPath, mapDir === undefined ? {} : { pinPath: mapDir });
  const pinned: string[] = [];
  try {
    mkdirSync(pinPath, { recursive: true });
    // Pins are named by the C function's full name, as bpftool's; the kernel keeps only 15 characters.
    for (const [name, program] of object.programs) {
      const target = path.join(pinPath, name);
      const link = attachProgram?.(program);
      if (link) {
        try {
          link.pin(target);
        } finally {
          link.close();
        }
      } else {
        program.pin(target);
      }
      pinned.push(target);
    }
    if (mapDir !== undefined) {
      mkdirSync(mapDir, { recursive: true });
      for (const [key, map] of object.maps) {
        const target = path.join(mapDir, pinmapsName(map.name));
        // A map pinned by name under MAP_DIR during the load is there already.
        if (object.spec.maps.get(key)?.pinning === 'byName') continue;
        map.pin(target);
        pinned.push(target);
      }
    }
  } catch (error) {
    // As bpftool: a failed loadall leaves none of its pins behind.
    for (const target of pinned) rmSync(target, { force: true });
    throw error;
  }
  out.done();
}

/** `load OBJECT PATH [pinmaps MAP_DIR] [autoattach]`. */
export const loadCommand: Command = { run };
