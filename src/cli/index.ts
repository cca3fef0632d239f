#!/usr/bin/env node
/**
 * `switchboard doctor app.js [--json] [--timeout 10s] [-- app args]`
 * `switchboard demo [--port 3000]`
 * `switchboard --version`
 */
import { packageRoot } from '../package-root.js';
import { parseArgs } from './args.js';
import { doctor } from './doctor.js';

const USAGE = `Usage:
  switchboard doctor <app.js> [--json] [--timeout 10s] [-- app arguments]
      Starts the app under the guard until its servers listen, prints which code owns which
      WebSocket path and every conflict, then stops it. Exit 0: no conflict; 1: a conflict;
      2: the app could not be inspected.
  switchboard demo [--port 3000]
      Every kind of real-time service on one port, with a live dashboard.
  switchboard --version
      Prints the version of this Switchboard.
`;

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if ('error' in parsed) {
    process.stderr.write(`switchboard: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  switch (parsed.command) {
    case 'doctor':
      return doctor(parsed);
    case 'version':
      process.stdout.write(`${packageRoot().manifest.version}\n`);
      return 0;
    case 'demo': {
      const { startDemo } = await import('../demo/start.js');
      await startDemo({ port: parsed.port, host: process.env.HOST, handleSignals: true });
      return -1;
    }
    default:
      process.stdout.write(USAGE);
      return 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
