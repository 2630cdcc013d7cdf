/**
 * Unknown fields in values: the error both codec families (BTF types and `BpfRecord` templates)
 * throw for a member the type does not have, with a "did you mean" for a near miss. A misspelled
 * field would otherwise be dropped (the encoder reads only the names it knows), so a typo would
 * write zero, or fail as "missing" under the name the user did not misspell.
 */
import { argumentError } from '../sys/errors.js';

/**
 * The expected name `name` most likely misspells: equal ignoring case, or within an edit
 * distance of about a third of its length (at least 1, at most 3). Undefined when none is close.
 */
export function closestName(name: string, expected: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of expected) {
    if (candidate.toLowerCase() === lower) return candidate;
    const distance = editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Levenshtein distance with adjacent transpositions counted as one edit (optimal string
 * alignment); stops early and returns `limit` once the distance must reach it.
 */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, beforePrevious[j - 2]! + 1);
      current.push(distance);
      rowMin = Math.min(rowMin, distance);
    }
    if (rowMin >= limit) return limit;
    beforePrevious = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}

/**
 * The first own enumerable property of `value` that is not in `expected` and is not `undefined`
 * (an `undefined` member is the same as a missing one, as with object spread), or undefined.
 */
export function findUnknownField(value: object, expected: ReadonlySet<string> | readonly string[]): string | undefined {
  const has = Array.isArray(expected) ? (name: string) => expected.includes(name) : (name: string) => (expected as ReadonlySet<string>).has(name);
  for (const key in value) {
    if (!has(key) && Object.hasOwn(value, key) && (value as Record<string, unknown>)[key] !== undefined) return key;
  }
  return undefined;
}

/**
 * `TypeError` `ERR_BPFMAP_UNKNOWN_FIELD`: `path` (the value's own path, `value.inner`) has a
 * field `name` that `what` (`record value.inner`, `struct flow`) does not, with the fields it has
 * and the closest one.
 */
export function unknownFieldError(path: string, name: string, what: string, expected: readonly string[]): TypeError {
  const guess = closestName(name, expected);
  const listed = expected.length === 0 ? 'no fields' : `fields: ${expected.join(', ')}`;
  return argumentError(
    TypeError,
    'ERR_BPFMAP_UNKNOWN_FIELD',
    `${path}${/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`}: ${what} has no field '${name}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`} (${listed})`,
  );
}
