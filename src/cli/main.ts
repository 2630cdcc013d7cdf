#!/usr/bin/env node
/** The `bpfmap` executable: runs the command line and exits with its status. */
import { ExitCode, main } from './app.js';

// A closed pipe (`bpfmap dump ... | head`) ends the output, not the process with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(ExitCode.ok);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
