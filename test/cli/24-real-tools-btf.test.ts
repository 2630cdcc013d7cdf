/**
 * `btf` on real tools' maps prints C that compiles: the .rodata of mountsnoop and syscount holds
 * function-local statics, which BTF names `func.var` (`reserve_buf.zero`, `sys_exit.zero`); they
 * print as `func_var`, as bpftool's skeletons name them. Every map of each tool that has BTF types
 * is printed and compiled with clang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { needs, tempDir } from '../helpers.js';
import { startTool } from '../real-tools.js';
import { runCli } from './run-cli.js';

for (const { tool, args, statics } of [
  { tool: 'mountsnoop', args: [], statics: /\breserve_buf_zero\b/ },
  { tool: 'syscount', args: [], statics: /\bsys_exit_zero\b/ },
] as const) {
  test(`btf of ${tool}'s maps compiles, function-local statics included`, needs(tool, 'unshare', 'clang'), async (t) => {
    const dir = tempDir(t, `bpfmap-btf-${tool}`);
    const running = await startTool(t, [tool, ...args], /\S/);
    const maps = running.maps().filter((info) => info.btfId !== 0 && (info.btfKeyTypeId !== 0 || info.btfValueTypeId !== 0));
    assert.ok(maps.some((info) => info.name.endsWith('.rodata')), `${tool} has no .rodata with BTF: ${maps.map((info) => info.name).join(', ')}`);
    let sawStatics = false;
    for (const info of maps) {
      const printed = runCli('btf', 'id', String(info.id));
      assert.equal(printed.status, 0, `${info.name}: ${printed.stderr}`);
      assert.doesNotMatch(printed.stdout, /\b[A-Za-z_]\w*\.\w+;/, `${info.name} declares a name with a dot`);
      if (statics.test(printed.stdout)) sawStatics = true;
      const file = path.join(dir, `map${info.id}.c`);
      writeFileSync(file, printed.stdout);
      try {
        execFileSync('clang', ['-target', 'bpf', '-fsyntax-only', '-Wno-everything', file], { stdio: 'pipe' });
      } catch (error) {
        assert.fail(`${info.name} (${info.id}): the printed C does not compile:\n${(error as { stderr?: Buffer }).stderr?.toString() ?? ''}\n${printed.stdout}`);
      }
    }
    assert.ok(sawStatics, `no map of ${tool} printed ${statics}`);
  });
}
