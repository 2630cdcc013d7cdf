/**
 * Kernel symbols from `/proc/kallsyms`, to say "no such kernel function" before the kernel
 * answers a probe with a bare ENOENT or EINVAL, and to expand `kprobe.multi` patterns.
 * Read once per process (about 120k lines), on first use.
 */
import { readFileSync } from 'node:fs';

/** One kernel symbol. */
export interface KernelSymbol {
  readonly name: string;
  /** The nm-style type letter: `T`/`t` for text (functions), `D`/`d` data, ... */
  readonly type: string;
  /** The module that holds it, or undefined for vmlinux. */
  readonly module: string | undefined;
}

let symbols: Map<string, KernelSymbol> | undefined;

function load(): Map<string, KernelSymbol> {
  const table = new Map<string, KernelSymbol>();
  let text: string;
  try {
    text = readFileSync('/proc/kallsyms', 'latin1');
  } catch {
    return table;
  }
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    // "ffffffff81382f10 T __x64_sys_getpid" or "... t name\t[module]"
    const firstSpace = text.indexOf(' ', start);
    if (firstSpace > 0 && firstSpace + 3 < end) {
      const type = text[firstSpace + 1]!;
      const rest = text.slice(firstSpace + 3, end);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? rest : rest.slice(0, tab);
      const module = tab < 0 ? undefined : rest.slice(tab + 1).replace(/^\[|\]$/g, '');
      if (!table.has(name)) table.set(name, { name, type, module });
    }
    start = end + 1;
  }
  return table;
}

function table(): Map<string, KernelSymbol> {
  symbols ??= load();
  return symbols;
}

/** Whether /proc/kallsyms could be read at all (it is empty without CONFIG_KALLSYMS). */
export function kallsymsAvailable(): boolean {
  return table().size > 0;
}

/** The kernel symbol called `name`, or undefined. */
export function kernelSymbol(name: string): KernelSymbol | undefined {
  return table().get(name);
}

/** Whether `type` is a text (function) symbol type. */
function isFunction(symbol: KernelSymbol): boolean {
  return symbol.type === 'T' || symbol.type === 't' || symbol.type === 'W' || symbol.type === 'w';
}

/**
 * Kernel functions whose names match a shell-style pattern (`*` any run, `?` one character),
 * the way libbpf expands `SEC("kprobe.multi/PATTERN")`. Sorted, without duplicates.
 */
export function kernelFunctionsMatching(pattern: string): string[] {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const matcher = new RegExp(`^${escaped}$`);
  const names: string[] = [];
  for (const symbol of table().values()) {
    if (isFunction(symbol) && matcher.test(symbol.name) && !symbol.name.startsWith('__ftrace_invalid_address')) names.push(symbol.name);
  }
  return names.sort();
}
