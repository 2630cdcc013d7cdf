/**
 * A JSON parser for tests that keeps integers exact (unsafe ones become `bigint`) and undoes
 * bpftool's string-escaping bugs, so bpftool's output can be compared with bpfmap's exactly:
 * bpftool's json_writer writes a backslash as `\n` (its strings are printable ASCII, so a real
 * newline never occurs) and some versions write `'` as `\'`.
 */
import type { FormattedValue } from '../../src/codec/btf/json.js';

/** Parses JSON text; integers beyond 2^53 come back as `bigint`. */
export function parseExactJson(text: string, bpftoolQuirks = false): FormattedValue {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${at}: ${text.slice(Math.max(0, at - 20), at + 20)}`);
  };
  const space = (): void => {
    while (at < text.length && ' \t\r\n'.includes(text[at] as string)) at++;
  };
  const value = (): FormattedValue => {
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      const out: Record<string, FormattedValue> = {};
      space();
      if (text[at] === '}') { at++; return out; }
      for (;;) {
        space();
        const key = string();
        space();
        if (text[at++] !== ':') fail('expected :');
        out[key] = value();
        space();
        const next = text[at++];
        if (next === '}') return out;
        if (next !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      at++;
      const out: FormattedValue[] = [];
      space();
      if (text[at] === ']') { at++; return out; }
      for (;;) {
        out.push(value());
        space();
        const next = text[at++];
        if (next === ']') return out;
        if (next !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', at)) { at += 4; return true; }
    if (text.startsWith('false', at)) { at += 5; return false; }
    if (text.startsWith('null', at)) { at += 4; return null; }
    const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (!match) return fail('unexpected character');
    at += match[0].length;
    if (match[1] === undefined && match[2] === undefined) {
      const big = BigInt(match[0]);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    return Number(match[0]);
  };
  const string = (): string => {
    if (text[at++] !== '"') fail('expected string');
    let out = '';
    for (;;) {
      const c = text[at++];
      if (c === undefined) fail('unterminated string');
      if (c === '"') return out;
      if (c !== '\\') { out += c; continue; }
      const e = text[at++];
      switch (e) {
        case 'n': out += bpftoolQuirks ? '\\' : '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': out += String.fromCharCode(parseInt(text.slice(at, at + 4), 16)); at += 4; break;
        default: out += e; // \" \\ \/ and bpftool's \'
      }
    }
  };
  const result = value();
  space();
  if (at !== text.length) fail('trailing text');
  return result;
}
