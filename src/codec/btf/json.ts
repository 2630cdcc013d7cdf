/**
 * JSON text for formatted values, exact for 64-bit integers.
 *
 * `JSON.stringify` cannot write a `bigint`, and bpftool writes 64-bit values as bare numbers that
 * `JSON.parse` then rounds. bpfmap keeps the bare-number convention (so the output reads like
 * bpftool's) but carries 64-bit values as `bigint` and writes their exact digits: consumers that
 * parse with a bigint-aware parser (or `JSON.parse` with `context.source` on newer engines) get
 * every bit; plain `JSON.parse` rounds exactly as it would for bpftool's output.
 */

/** A JSON-ready value whose integers may be `bigint` (written as exact digits). */
export type FormattedValue = null | boolean | number | bigint | string | readonly FormattedValue[] | { readonly [key: string]: FormattedValue };

/**
 * Serializes a formatted value as JSON text: bigints as their exact digits, non-finite numbers
 * (from floats) as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
 *
 * @param indent spaces per level for pretty output; 0 (default) writes compact JSON like `bpftool -j`.
 * @example
 * formatToJson({ big: 18446744073709551615n }); // '{"big":18446744073709551615}'
 */
export function formatToJson(value: FormattedValue, indent = 0): string {
  const parts: string[] = [];
  write(value, parts, indent, '');
  return parts.join('');
}

function write(value: FormattedValue, out: string[], indent: number, pad: string): void {
  switch (typeof value) {
    case 'bigint':
      out.push(value.toString());
      return;
    case 'number':
      out.push(Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value)));
      return;
    case 'string':
    case 'boolean':
      out.push(JSON.stringify(value));
      return;
  }
  if (value === null) {
    out.push('null');
    return;
  }
  const inner = indent ? pad + ' '.repeat(indent) : '';
  const newline = indent ? '\n' : '';
  if (Array.isArray(value)) {
    const items = value as readonly FormattedValue[];
    if (items.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[', newline);
    items.forEach((item, i) => {
      out.push(inner);
      write(item, out, indent, inner);
      out.push(i < items.length - 1 ? ',' : '', newline);
    });
    out.push(pad, ']');
    return;
  }
  const entries = Object.entries(value as { readonly [key: string]: FormattedValue });
  if (entries.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{', newline);
  entries.forEach(([key, item], i) => {
    out.push(inner, JSON.stringify(key), indent ? ': ' : ':');
    write(item, out, indent, inner);
    out.push(i < entries.length - 1 ? ',' : '', newline);
  });
  out.push(pad, '}');
}
