/** Codecs the map layer adds around user codecs: per-CPU value arrays and LPM trie keys. */
import { type Codec, bytesCodec, describe, uint8ArrayLength } from '../codec/codec.js';
import { argumentError } from '../sys/errors.js';
import { roundUp8 } from '../sys/layout.js';


/**
 * Wraps a per-value codec into one for a per-CPU value: an array with one value per possible CPU,
 * laid out every `roundup(size, 8)` bytes.
 */
export function perCpuCodec<T>(element: Codec<T>, cpus: number): Codec<T[]> {
  const stride = roundUp8(element.size);
  const size = stride * cpus;
  return {
    size,
    encode(values: T[], target: Uint8Array, offset: number): void {
      if (!Array.isArray(values)) {
        throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `per-CPU value expected an array of ${cpus} values (one per possible CPU), got ${describe(values)}`);
      }
      if (values.length !== cpus) {
        throw argumentError(RangeError, 'ERR_BPFMAP_VALUE_SIZE', `per-CPU value expected ${cpus} values (one per possible CPU), got ${values.length}`);
      }
      target.fill(0, offset, offset + size);
      for (let cpu = 0; cpu < cpus; cpu++) {
        try {
          element.encode(values[cpu] as T, target, offset + cpu * stride);
        } catch (error) {
          if (error instanceof Error) error.message = `value[${cpu}]: ${error.message}`;
          throw error;
        }
      }
    },
    decode(source: Uint8Array, offset: number): T[] {
      const values = new Array<T>(cpus);
      for (let cpu = 0; cpu < cpus; cpu++) values[cpu] = element.decode(source, offset + cpu * stride);
      return values;
    },
  };
}

/** An LPM trie key: a prefix length in bits and the address bytes. */
export interface LpmKey {
  /** Number of leading bits of `data` that matter. */
  readonly prefixLen: number;
  /** The address (or other data), exactly `keySize - 4` bytes. */
  readonly data: Uint8Array;
}

/**
 * Codec for lpm_trie keys (`struct { u32 prefixlen; u8 data[]; }`, prefixlen in host order).
 *
 * @example
 * const trie = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 16, flags: ['NO_PREALLOC'] },
 *   { key: lpmKeyCodec(4) });
 * trie.set({ prefixLen: 24, data: Uint8Array.of(10, 0, 0, 0) }, value);
 */
export function lpmKeyCodec(dataSize: number): Codec<LpmKey> {
  const data = bytesCodec(dataSize);
  return {
    size: 4 + dataSize,
    encode(key: LpmKey, target: Uint8Array, offset: number): void {
      if (key === null || typeof key !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_KEY_TYPE', `lpm key expected {prefixLen, data}, got ${describe(key)}`);
      const { prefixLen } = key;
      if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > dataSize * 8) {
        throw argumentError(RangeError, 'ERR_BPFMAP_KEY_TYPE', `lpm key prefixLen expected an integer from 0 to ${dataSize * 8}, got ${describe(prefixLen)}`);
      }
      if (uint8ArrayLength(key.data) !== dataSize) {
        throw argumentError(RangeError, 'ERR_BPFMAP_KEY_SIZE', `lpm key data expected ${dataSize} bytes, got ${describe(key.data)}`);
      }
      new DataView(target.buffer, target.byteOffset).setUint32(offset, prefixLen, true);
      data.encode(key.data, target, offset + 4);
    },
    decode(source: Uint8Array, offset: number): LpmKey {
      return {
        prefixLen: new DataView(source.buffer, source.byteOffset).getUint32(offset, true),
        data: data.decode(source, offset + 4),
      };
    },
  };
}
