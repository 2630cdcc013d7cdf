/**
 * `btfCodec` for the object loader's rarely used paths (`.rodata` constants, globals, struct_ops
 * members), without importing it: codec.ts installs it when it loads, and the package's entry
 * point loads it. `bpfmap load`, which loads objects and never encodes a value, then starts
 * without the codec modules, as the CLI's raw map commands start without btf-map's
 * (`installBtfSupport` in map/bpf-map.ts).
 */
import type { Codec } from '../codec.js';
import type { Btf } from './btf.js';

type BtfCodecFactory = <T>(btf: Btf, typeId: number) => Codec<T>;

let factory: BtfCodecFactory | undefined;

/** Installs `btfCodec` (codec.ts calls this when it loads). Internal. */
export function installBtfCodec(codec: BtfCodecFactory): void {
  factory = codec;
}

/**
 * `btfCodec(btf, typeId)` when codec.ts is loaded.
 * @throws Error when it is not (only code inside the package that skips the entry point can get here).
 */
export function installedBtfCodec<T = unknown>(btf: Btf, typeId: number): Codec<T> {
  if (factory === undefined) throw new Error("bpfmap: BTF codecs are not loaded; import from 'bpfmap' (the package entry point loads them)");
  return factory<T>(btf, typeId);
}
