#!/usr/bin/env node
/** The `bpfmap` executable: runs the command line and exits with its status. */
// Node.js 22.1+ keeps compiled code of the modules below on disk, which cuts the start-up of every
// later run (scripts call the CLI in loops). Node.js 20 has no such cache: the call is skipped.
// It must run before the modules load, hence the dynamic import below.
// (node:module itself is loaded only there: on Node.js 20 it would cost start-up time for nothing.)
if (Number(process.versions.node.split('.')[0]) >= 22) {
  const module = (await import('node:module')) as { enableCompileCache?: () => unknown };
  module.enableCompileCache?.();
}

const { main } = await import('./app.js');
process.exitCode = await main(process.argv.slice(2));
