/**
 * Readable text for decoded entries: an aligned table when keys and values are flat (scalars or
 * structs of scalars), indented structures when they nest. Tables stream: column widths come
 * from the first rows, later rows use the same widths (a wider cell just pushes its line out).
 */
import type { Output } from './output.js';

/** Rows buffered to size the columns before the table starts printing. */
const SIZING_ROWS = 1000;

type Scalar = null | boolean | number | bigint | string;

function isScalar(value: unknown): value is Scalar {
  return value === null || ['boolean', 'number', 'bigint', 'string'].includes(typeof value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A scalar as a cell or a line: strings bare, numbers in full. */
export function scalarText(value: Scalar): string {
  return value === null ? '-' : typeof value === 'string' ? value : String(value);
}

/** Columns and cells of a flat value: `[name, cell]` pairs, or undefined when it nests. */
function flatten(value: unknown, name: string): Array<[string, Scalar]> | undefined {
  if (isScalar(value)) return [[name, value]];
  if (!isPlainObject(value)) return undefined;
  const cells: Array<[string, Scalar]> = [];
  for (const [member, memberValue] of Object.entries(value)) {
    if (!isScalar(memberValue)) return undefined;
    cells.push([member === '' ? name : member, memberValue]);
  }
  return cells;
}

/** The cells of one decoded entry, or undefined when it cannot be a table row. */
function rowOf(entry: Record<string, unknown>): Array<[string, Scalar]> | undefined {
  const key = 'key' in entry ? flatten(entry.key, 'key') : [];
  if (key === undefined) return undefined;
  if (Array.isArray(entry.values)) {
    const cells: Array<[string, Scalar]> = [...key];
    let sum = 0n;
    let numeric = true;
    for (const { cpu, value } of entry.values as Array<{ cpu: number; value: unknown }>) {
      if (!isScalar(value)) return undefined;
      cells.push([`cpu${cpu}`, value]);
      if (typeof value === 'number' && Number.isInteger(value)) sum += BigInt(value);
      else if (typeof value === 'bigint') sum += value;
      else numeric = false;
    }
    if (numeric) cells.push(['sum', sum]);
    return cells;
  }
  const value = flatten(entry.value, 'value');
  return value === undefined ? undefined : [...key, ...value];
}

/** Indented lines of a nested value. */
export function indentedLines(value: unknown, indent: string): string[] {
  if (isScalar(value)) return [`${indent}${scalarText(value)}`];
  if (Array.isArray(value)) {
    if (value.every(isScalar)) return [`${indent}[${value.map((item) => scalarText(item as Scalar)).join(', ')}]`];
    return value.flatMap((item, index) => [`${indent}[${index}]`, ...indentedLines(item, `${indent}  `)]);
  }
  const lines: string[] = [];
  for (const [member, memberValue] of Object.entries(value as Record<string, unknown>)) {
    if (isScalar(memberValue) || (Array.isArray(memberValue) && memberValue.every(isScalar))) {
      lines.push(`${indent}${member}: ${indentedLines(memberValue, '')[0] ?? ''}`);
    } else {
      lines.push(`${indent}${member}:`, ...indentedLines(memberValue, `${indent}  `));
    }
  }
  return lines;
}

/** Prints decoded entries as a table, falling back to indented structures. */
export class DecodedTable {
  #columns: string[] | undefined;
  #widths: number[] = [];
  #pending: Array<Array<[string, Scalar]>> = [];
  #started = false;

  constructor(readonly out: Output) {}

  /** Adds one entry's decoded form (`{key, value}` or `{key, values: [{cpu, value}]}`). */
  add(entry: Record<string, unknown>): void {
    const row = rowOf(entry);
    const columns = row?.map(([name]) => name);
    if (row !== undefined && this.#columns === undefined && !this.#started) this.#columns = columns;
    if (row === undefined || !sameColumns(columns, this.#columns)) {
      this.#flushPending();
      this.#started = true;
      this.#printNested(entry);
      return;
    }
    if (this.#started) {
      this.#printRow(row);
      return;
    }
    this.#pending.push(row);
    if (this.#pending.length >= SIZING_ROWS) this.#flushPending();
  }

  /** Prints what is still buffered. */
  finish(): void {
    this.#flushPending();
  }

  #flushPending(): void {
    if (this.#pending.length === 0 || this.#columns === undefined) return;
    const columns = this.#columns;
    this.#widths = columns.map((column, i) => Math.max(column.length, ...this.#pending.map((row) => scalarText(row[i]?.[1] ?? null).length)));
    // Headers align like their cells: strings to the left, numbers to the right.
    const firstRow = this.#pending[0] ?? [];
    const header = columns.map((column, i) => (typeof firstRow[i]?.[1] === 'string' ? column.padEnd(this.#widths[i] ?? 0) : column.padStart(this.#widths[i] ?? 0)));
    this.out.line(header.join('  ').trimEnd());
    for (const row of this.#pending) this.#printRow(row);
    this.#pending = [];
    this.#started = true;
  }

  #printRow(row: Array<[string, Scalar]>): void {
    const cells = row.map(([, value], i) => {
      const text = scalarText(value);
      const width = this.#widths[i] ?? 0;
      return typeof value === 'string' ? text.padEnd(width) : text.padStart(width);
    });
    this.out.line(cells.join('  ').trimEnd());
  }

  #printNested(entry: Record<string, unknown>): void {
    for (const [part, value] of Object.entries(entry)) {
      if (part === 'values' && Array.isArray(value)) {
        for (const { cpu, value: cpuValue } of value as Array<{ cpu: number; value: unknown }>) {
          const lines = indentedLines(cpuValue, '  ');
          this.out.line(lines.length === 1 && isScalar(cpuValue) ? `value (CPU ${String(cpu).padStart(2, '0')}): ${scalarText(cpuValue)}` : `value (CPU ${String(cpu).padStart(2, '0')}):`);
          if (!(lines.length === 1 && isScalar(cpuValue))) for (const line of lines) this.out.line(line);
        }
        continue;
      }
      if (isScalar(value)) this.out.line(`${part}: ${scalarText(value)}`);
      else {
        this.out.line(`${part}:`);
        for (const line of indentedLines(value, '  ')) this.out.line(line);
      }
    }
  }
}

function sameColumns(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((column, i) => column === b[i]);
}
