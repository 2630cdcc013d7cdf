/** Assertions shared by the safety tests: every refusal is a typed error with a string code. */
import assert from 'node:assert/strict';

/** Asserts that `fn` throws an error of `kind` whose `code` is `code` (and message matches `pattern`). */
export function throwsCoded(fn: () => unknown, kind: new (...args: never[]) => Error, code: string, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.equal((error as { code?: unknown }).code, code, `code of: ${(error as Error).message}`);
    if (pattern) assert.match((error as Error).message, pattern);
    return true;
  });
}

/** True when `error` is an Error with a string `code`. */
export function hasCode(error: unknown): boolean {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

/** Every [key, value] of a raw map, as hex strings, sorted: a snapshot to compare before and after. */
export function snapshot(entries: Iterable<[Uint8Array, Uint8Array | Uint8Array[]]>): string[] {
  const rows: string[] = [];
  for (const [key, value] of entries) {
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
    rows.push(`${hex(key)}=${Array.isArray(value) ? value.map(hex).join('|') : hex(value)}`);
  }
  return rows.sort();
}
