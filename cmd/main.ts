#!/usr/bin/env node
/** `moxts` command line entry point; see program.ts. */
import { main } from './program.js';

process.exitCode = await main(process.argv.slice(2));
