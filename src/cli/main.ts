/**
 * The command line's entry: runs `main` and exits with its status. The `bpfmap` executable
 * (bin.cts) loads it from the bundle that `npm run build` makes of this module and everything it
 * imports (dist/cli/bpfmap.cjs); `node dist/src/cli/main.js` runs the same code unbundled.
 */
import { main } from './app.js';

let settled = false;
// The bundle is CommonJS, which has no top-level await: if the command's promise never settled
// (nothing left for the event loop to wait on), Node.js would exit 0 as though it had succeeded.
// Exit 13 instead, the status Node.js gives an unsettled top-level await, and say so.
process.once('exit', (code) => {
  if (settled || code !== 0) return;
  process.stderr.write('bpfmap: internal error: the command stopped before it finished\n');
  process.exitCode = 13;
});
main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (error: unknown) => {
    settled = true;
    // As an unhandled rejection: Node.js prints it and exits 1.
    throw error;
  },
);
