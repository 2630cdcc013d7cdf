/**
 * `gen OBJECT [name NAME] [import MODULE] [path]`: prints a TypeScript skeleton module for a BPF
 * object (see src/objects/skeleton.ts): typed maps, programs, globals and constants, and `load()`.
 * The object's bytes are embedded unless `path` asks for the module to read it from its absolute
 * path at load; `name` sets the object name (internal map prefix, type names); `import` sets where
 * the module imports bpfmap from.
 */
import { readFileBounded } from '../../codec/btf/sources.js';
import path from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { BpfObject } from '../../objects/object.js';
import { generateSkeleton } from '../../objects/skeleton.js';

function run({ args, options, out }: CommandContext): void {
  const file = args.next('object file');
  let name: string | undefined;
  let importFrom: string | undefined;
  let byPath = false;
  while (!args.done) {
    if (args.accept('name')) name = args.next('object name');
    else if (args.accept('import')) importFrom = args.next('module to import bpfmap from');
    else if (args.accept('path')) byPath = true;
    else break;
  }
  args.end();
  options.end();
  // Bounded: a device or FIFO named as the object would otherwise be read without end.
  const bytes = readFileBounded(file);
  // Bytes carry no file name: name the object after the file, as libbpf does, unless told.
  const named = BpfObject.open(bytes, { name: name ?? path.basename(file).split('.')[0] ?? 'object' });
  out.line(generateSkeleton(named, {
    sourceName: path.basename(file),
    ...(byPath ? { path: path.resolve(file) } : { bytes }),
    ...(importFrom !== undefined ? { importFrom } : {}),
  }).trimEnd());
}

/** `gen OBJECT [name NAME] [import MODULE] [path]`. */
export const genCommand: Command = { run };
