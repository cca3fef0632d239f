import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The copies of a package the app would load: resolved from the entry script's folder and from
 * the working directory (and from Switchboard itself, for an app that uses its peer), without
 * duplicates. Patching the copy the app really imports is what makes the guard work.
 */
export function appModules<T>(name: string): T[] {
  const bases = [
    process.argv[1] ? path.resolve(process.argv[1]) : undefined,
    path.join(process.cwd(), 'index.js'),
    import.meta.url,
  ];
  const seen = new Set<string>();
  const found: T[] = [];
  for (const base of bases) {
    if (!base) continue;
    try {
      const load = createRequire(base);
      const file = load.resolve(name);
      if (seen.has(file)) continue;
      seen.add(file);
      found.push(load(file) as T);
    } catch {
      // Not installed from there: nothing to patch.
    }
  }
  return found;
}
