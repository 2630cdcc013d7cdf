/**
 * A JSON reader for keys and values typed on the command line. Unlike `JSON.parse` it keeps
 * integers beyond 2^53 exact (as bigints), so `'{"bytes": 18446744073709551615}'` writes exactly
 * that u64. Integers within the safe range stay numbers.
 */
import { UsageError } from './grammar.js';

/** A parsed JSON value whose big integers are bigints. */
export type JsonInput = null | boolean | number | bigint | string | JsonInput[] | { [key: string]: JsonInput };

/**
 * How deep arrays and objects may nest. No BTF type nests this deep in practice, and the parser
 * recurses once per level: a limit gives a clear error where 30,000 levels would overflow the stack.
 */
export const MAX_JSON_DEPTH = 256;

/** Parses JSON text; `what` names the argument in errors. */
export function parseJsonInput(text: string, what: string): JsonInput {
  let position = 0;
  let depth = 0;
  const fail = (message: string): never => {
    throw new UsageError(`${what}: invalid JSON at character ${position + 1}: ${message}`);
  };
  const skipSpace = (): void => {
    while (position < text.length && /\s/.test(text[position] as string)) position++;
  };
  const value = (): JsonInput => {
    skipSpace();
    const char = text[position];
    if ((char === '{' || char === '[') && depth >= MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    depth++;
    try {
      return compound(char);
    } finally {
      depth--;
    }
  };
  const compound = (char: string | undefined): JsonInput => {
    if (char === '{') {
      position++;
      const object: { [key: string]: JsonInput } = {};
      skipSpace();
      if (text[position] === '}') {
        position++;
        return object;
      }
      for (;;) {
        skipSpace();
        if (text[position] !== '"') fail('expected a member name');
        const key = string();
        skipSpace();
        if (text[position++] !== ':') fail("expected ':'");
        // defineProperty: a member named "__proto__" is data, not the object's prototype.
        Object.defineProperty(object, key, { value: value(), enumerable: true, writable: true, configurable: true });
        skipSpace();
        const next = text[position++];
        if (next === '}') return object;
        if (next !== ',') fail("expected ',' or '}'");
      }
    }
    if (char === '[') {
      position++;
      const array: JsonInput[] = [];
      skipSpace();
      if (text[position] === ']') {
        position++;
        return array;
      }
      for (;;) {
        array.push(value());
        skipSpace();
        const next = text[position++];
        if (next === ']') return array;
        if (next !== ',') fail("expected ',' or ']'");
      }
    }
    if (char === '"') return string();
    const literal = /^(true|false|null)/.exec(text.slice(position));
    if (literal) {
      position += (literal[1] as string).length;
      return literal[1] === 'true' ? true : literal[1] === 'false' ? false : null;
    }
    const number = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(position));
    if (number) {
      position += number[0].length;
      if (number[2] === undefined && number[3] === undefined) {
        const integer = BigInt(number[0]);
        return integer >= BigInt(Number.MIN_SAFE_INTEGER) && integer <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(integer) : integer;
      }
      return Number(number[0]);
    }
    return fail(char === undefined ? 'unexpected end' : `unexpected '${char}'`);
  };
  const string = (): string => {
    const match = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(text.slice(position));
    if (!match) return fail('bad string');
    position += match[0].length;
    return JSON.parse(match[0]) as string;
  };
  const result = value();
  skipSpace();
  if (position !== text.length) fail('trailing characters');
  return result;
}

/** True when a word reads as a JSON object, array or string rather than bpftool bytes. */
export function looksLikeJsonDocument(word: string): boolean {
  return /^\s*[{["]/.test(word);
}

/** True when a word is a JSON number (which bytes also are: context decides). */
export function looksLikeJsonNumber(word: string): boolean {
  return /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(word);
}
