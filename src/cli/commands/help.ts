/** `help`: the grammar, in bpftool's words. */
import type { CommandEntry } from '../command.js';

/** The usage text for a command table. */
export function usageText(commands: readonly CommandEntry[]): string {
  const lines = commands.map((command, i) => `${i === 0 ? 'Usage: ' : '       '}bpfmap [OPTIONS] ${command.usage}`);
  return [
    ...lines,
    '',
    '       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }',
    '       DATA := { [hex] BYTES }      (or JSON for maps with BTF: \'{"field": 1}\', 42)',
    '       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }',
    '       VALUE := { DATA | MAP | PROG }',
    '       UPDATE_FLAGS := { any | exist | noexist }',
    '       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-f|--bpffs} | {-V|--version} }',
    '',
    '       Exit status: 0 on success, 1 when an operation fails, 2 for a usage error.',
  ].join('\n');
}
