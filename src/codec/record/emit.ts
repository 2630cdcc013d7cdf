/**
 * What the decoder and encoder generators share: how a scalar maps to a DataView accessor, how an
 * offset is written in generated code, and when an array becomes a loop.
 */
import type { ArrayLayout, ScalarLayout } from './layout.js';
import { firstOffset } from './layout.js';

/** Uniform arrays longer than this become loops; shorter ones are unrolled. */
export const UNROLL_LIMIT = 16;

/**
 * The DataView accessor suffix (`'Uint32'` for `getUint32`/`setUint32`) of a scalar, or undefined
 * when no single accessor reads it (half floats, strings, chars and bools go through helpers or
 * byte reads).
 */
export function dataViewAccessor(scalar: ScalarLayout): string | undefined {
  const { format, size } = scalar;
  if (format.kind === 'int') {
    const signed = format.signed ? 'Int' : 'Uint';
    return size === 8 ? `Big${signed}64` : `${signed}${size * 8}`;
  }
  if (format.kind === 'float' && size !== 2) return `Float${size * 8}`;
  return undefined;
}

/** The generated expression for `base + delta`. */
export function offsetExpression(base: string, delta: number): string {
  return delta === 0 ? base : `${base} + ${delta}`;
}

/** When an array should be a loop: the element stride and where element 0 starts; else undefined. */
export function loopShape(array: ArrayLayout): { stride: number; start: number } | undefined {
  const [first] = array.elements;
  if (array.uniformStride === undefined || array.elements.length <= UNROLL_LIMIT || first === undefined) return undefined;
  const start = firstOffset(first);
  return start === undefined ? undefined : { stride: array.uniformStride, start };
}

/** The smallest and largest value of an integer scalar, as JavaScript literals. */
export function integerBounds(scalar: ScalarLayout): { min: string; max: string } {
  const bits = BigInt(scalar.size * 8);
  const [min, max] = scalar.format.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
  return scalar.size === 8 ? { min: `${min}n`, max: `${max}n` } : { min: String(min), max: String(max) };
}

/** A field name as it appears in a path: `.name`, or `["odd name"]`. */
export function fieldPathPart(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}
