import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard's static files, found from the package root (the nearest folder above this
 * module whose package.json is Switchboard's), so that it works from `src/` under tsx and from any
 * bundled chunk in `dist/`.
 */
export function publicDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.dirname(dir) !== dir) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'switchboard') {
      return path.join(dir, 'src', 'demo', 'public');
    }
    dir = path.dirname(dir);
  }
  throw new Error('switchboard demo: cannot find the package folder holding the dashboard files');
}
