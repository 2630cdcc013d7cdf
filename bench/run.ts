/**
 * Runs every benchmark under bench/ in turn (`npm run bench`), each in its own process so that one
 * benchmark's garbage does not slow the next. Pass --quick for smaller sizes.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const skip = new Set(['run.js', 'harness.js']);
const benches = readdirSync(here).filter((f) => f.endsWith('.js') && !skip.has(f)).sort();
let failed = 0;
for (const bench of benches) {
  console.log(`\n# ${bench}`);
  const result = spawnSync(process.execPath, ['--expose-gc', path.join(here, bench), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
