/** Maps made through the raw addon, for the tests that call it without the library. */
import assert from 'node:assert/strict';
import { native, type NativeObject } from '../../src/sys/native.js';

/** MAP_CREATE's attribute prefix: type, key and value sizes, entries, flags (all else zero). */
export function mapCreateAttr(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): Uint8Array {
  const attr = new Uint8Array(64);
  const view = new DataView(attr.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, keySize, true);
  view.setUint32(8, valueSize, true);
  view.setUint32(12, maxEntries, true);
  view.setUint32(16, flags, true);
  return attr;
}

/** A new map's handle from the raw addon (`inner` for map-in-map types); fails the test if the kernel refuses. */
export function createdRawMap(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, inner: NativeObject<'map'> | null = null): NativeObject<'map'> {
  const map = native.mapCreate(mapCreateAttr(type, keySize, valueSize, maxEntries, flags), inner, null);
  if (typeof map === 'number') assert.fail(`MAP_CREATE failed: ${map}`);
  return map;
}
