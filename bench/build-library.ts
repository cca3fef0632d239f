/**
 * Builds Switchboard from src/ the way it is published (tsup is esbuild: ESM, node20, dependencies
 * external, no `keepNames`) into node_modules/.cache, for the server processes to load.
 *
 * Why not run src/ through tsx, as the tests do: tsx transforms with `keepNames`, which wraps every
 * named closure in a `__name()` call that defines a property on it. Handshake's arrow-function
 * fields make that several calls per handshake, ~4% of the hub's CPU time per handshake on this
 * machine, a cost no user pays. `--source` measures src/ through tsx anyway.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Inside node_modules so that the bundle's own `import 'ws'` resolves to the repository's copy. */
export const LIBRARY_DIR = `${ROOT}node_modules/.cache/switchboard-bench`;

/** The environment that makes bench/library.ts load the build. */
export const LIBRARY_ENV = 'SWITCHBOARD_BENCH_LIB';

export async function buildLibrary(): Promise<string> {
  mkdirSync(LIBRARY_DIR, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: {
      index: 'src/index.ts',
      register: 'src/guard/register.ts',
      router: 'src/router/index.ts',
      redis: 'src/cluster/redis.ts',
      'request-target': 'src/hub/request-target.ts',
      metrics: 'src/metrics/index.ts',
    },
    outdir: LIBRARY_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return LIBRARY_DIR;
}
