#!/usr/bin/env node
/** The `bpfmap` executable: runs the command line and exits with its status. */
import { main } from './app.js';

process.exitCode = await main(process.argv.slice(2));
