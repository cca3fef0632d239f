import path from 'node:path';
import { packageRoot } from '../package-root.js';

/** The dashboard's static files, shipped in the package as `src/demo/public`. */
export function publicDir(): string {
  return path.join(packageRoot().dir, 'src', 'demo', 'public');
}
