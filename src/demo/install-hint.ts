import path from 'node:path';
import { packageRoot } from '../package-root.js';

/** Every package the full demo uses besides Switchboard, in the order the README gives them. */
const FULL_DEMO = ['ws', 'socket.io', 'graphql', 'graphql-ws'];

/**
 * The command that adds `missing` to the demo: `npm install` in the app that has Switchboard or,
 * when the demo runs from npx's cache (which an install in the current folder does not reach),
 * npx with every package of the full demo.
 */
export function installHint(missing: readonly string[]): string {
  if (packageRoot().dir.split(path.sep).includes('_npx')) {
    return `npx ${['switchboard', ...FULL_DEMO].map((name) => `-p ${name}`).join(' ')} switchboard demo`;
  }
  return `npm install ${missing.join(' ')}`;
}
