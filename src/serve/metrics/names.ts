/**
 * The exposition's lexical rules: metric and label names sanitised to what Prometheus accepts,
 * label values and HELP text escaped, numbers written the way Prometheus parses them.
 */

/** Replaces what a metric name may not hold (`[a-zA-Z_:][a-zA-Z0-9_:]*`) with `_`. */
export function metricName(text: string): string {
  let name = text.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (name === '' || /^[0-9]/.test(name)) name = `_${name}`;
  return name;
}

/**
 * Replaces what a label name may not hold (`[a-zA-Z_][a-zA-Z0-9_]*`) with `_`; names starting
 * with `__` (reserved for Prometheus) keep a single leading underscore.
 */
export function labelName(text: string): string {
  let name = text.replace(/[^a-zA-Z0-9_]/g, '_');
  if (name === '' || /^[0-9]/.test(name)) name = `_${name}`;
  if (name.startsWith('__')) name = name.replace(/^_+/, '_');
  return name;
}

/**
 * Makes each name unique (a `_2`, `_3`... suffix), also against `reserved` (labels the exporter
 * adds itself, such as `le` and `cpu`).
 */
export function uniqueNames(names: readonly string[], reserved: readonly string[] = []): string[] {
  const taken = new Set(reserved);
  return names.map((name) => {
    let candidate = name;
    for (let n = 2; taken.has(candidate); n++) candidate = `${name}_${n}`;
    taken.add(candidate);
    return candidate;
  });
}

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value escaped for the exposition: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaped: backslash and newline (and, in OpenMetrics, double quote). */
export function escapeHelp(text: string, openMetrics: boolean): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

/** `{a="x",b="y"}` from names and raw values, or '' without labels. */
export function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) text += ',';
    text += `${names[i] as string}="${escapeLabelValue(values[i] as string)}"`;
  }
  return `${text}}`;
}

/**
 * A sample value as text: integers exactly as long as a double holds them, other numbers in
 * JavaScript's shortest round-trip form (which Prometheus parses), infinities as `+Inf`/`-Inf`.
 */
export function sampleValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/**
 * A bucket bound in Go's `strconv.FormatFloat(f, 'g', -1, 64)` form, which client_golang (and so
 * ebpf_exporter) writes into `le`: exponent form below 1e-4 and, as Go does for shortest
 * formatting, from 1e6 on (`1e+06`). The same `le` text keeps the series identical.
 */
export function goFloat(value: number): string {
  if (!Number.isFinite(value)) return sampleValue(value);
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponential = value.toExponential(); // shortest digits: "1.5e+6"
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-])(\d+)$/.exec(exponential);
  if (match === null) return String(value);
  const [, sign = '', first = '', rest = '', expSign = '+', expDigits = '0'] = match;
  const exponent = Number(expDigits) * (expSign === '-' ? -1 : 1);
  if (exponent < -4 || exponent >= 6) {
    const mantissa = rest === '' ? first : `${first}.${rest}`;
    return `${sign}${mantissa}e${expSign}${expDigits.padStart(2, '0')}`;
  }
  return String(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text of a C char array: up to the first NUL, as UTF-8; bytes that are not valid UTF-8 are
 * written `\xNN` so that the label value stays valid UTF-8 and still shows what was there.
 */
export function charArrayText(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset;
  const limit = offset + length;
  let ascii = true;
  while (end < limit && bytes[end] !== 0) {
    if ((bytes[end] as number) >= 0x80) ascii = false;
    end++;
  }
  if (ascii) {
    let text = '';
    for (let i = offset; i < end; i++) text += String.fromCharCode(bytes[i] as number);
    return text;
  }
  const slice = bytes.subarray(offset, end);
  try {
    return utf8.decode(slice);
  } catch {
    let text = '';
    let i = 0;
    while (i < slice.length) {
      const width = utf8SequenceLength(slice, i);
      if (width === 0) {
        text += `\\x${(slice[i] as number).toString(16).padStart(2, '0')}`;
        i++;
      } else {
        text += utf8.decode(slice.subarray(i, i + width));
        i += width;
      }
    }
    return text;
  }
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i] as number;
  const width = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
  if (width <= 1 || i + width > bytes.length) return width === 1 ? 1 : 0;
  try {
    utf8.decode(bytes.subarray(i, i + width));
    return width;
  } catch {
    return 0;
  }
}
