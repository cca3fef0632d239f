import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of the Switchboard package this module belongs to and its manifest: the nearest
 * folder above this module whose package.json is Switchboard's, so that it is found from `src/`
 * under tsx and from any bundled chunk in `dist/` alike.
 */
export function packageRoot(): { dir: string; manifest: { name: string; version: string } } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.dirname(dir) !== dir) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      if (manifest.name === 'switchboard') return { dir, manifest };
    }
    dir = path.dirname(dir);
  }
  throw new Error('switchboard: cannot find the package folder (its package.json) above this module');
}
