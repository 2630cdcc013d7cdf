/**
 * A reader of the text exposition (0.0.4, and OpenMetrics' common subset): families with their
 * HELP, TYPE and samples, label values unescaped. The prom-client bridge reads the exporter's own
 * output with it.
 */

/** One sample. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** One family. */
export interface ParsedFamily {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: ParsedSample[];
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Parses an exposition. @throws Error naming the line that does not parse */
export function parseExposition(text: string): ParsedFamily[] {
  const families: ParsedFamily[] = [];
  const byName = new Map<string, ParsedFamily>();
  const familyOf = (name: string): ParsedFamily => {
    let family = byName.get(name);
    if (family === undefined) {
      family = { name, type: 'untyped', help: '', samples: [] };
      byName.set(name, family);
      families.push(family);
    }
    return family;
  };
  let current: ParsedFamily | undefined;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(line);
      if (meta === null) continue;
      const [, kind, name = '', rest = ''] = meta;
      current = familyOf(name);
      if (kind === 'HELP') current.help = unescape(rest);
      if (kind === 'TYPE') current.type = rest;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(?:\s+\S+)?$/.exec(line);
    if (sample === null) throw new Error(`line ${n + 1} is not a sample: ${line.slice(0, 120)}`);
    const [, name = '', labelText = '', value = ''] = sample;
    const labels: Record<string, string> = {};
    for (const match of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[match[1] as string] = unescape(match[2] as string);
    // A sample belongs to the family declared last when its name extends that family's.
    const owner = current !== undefined && (name === current.name || name.startsWith(`${current.name}_`)) ? current : familyOf(name);
    owner.samples.push({ name, labels, value: parseValue(value) });
  }
  return families;
}
