import { createRequire } from 'node:module';
import { SwitchboardError } from './errors.js';

const load = createRequire(import.meta.url);

/**
 * Loads an optional peer dependency on first use, with an install hint instead of a bare
 * MODULE_NOT_FOUND. Synchronous, so APIs such as `hub.io()` can stay synchronous.
 */
export function optionalRequire<T>(name: string, forWhat: string): T {
  try {
    return load(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new SwitchboardError('ERR_MISSING_PEER', `${forWhat} needs the ${name} package: npm install ${name}`);
    }
    throw error;
  }
}
