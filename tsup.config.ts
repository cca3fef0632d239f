import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// One entry per layer, so each is importable on its own (see package.json "exports").
const library = {
  index: 'src/index.ts',
  'router/index': 'src/router/index.ts',
  'hub/index': 'src/hub/index.ts',
  'adapters/index': 'src/adapters/index.ts',
  'realtime/index': 'src/realtime/index.ts',
  'guard/index': 'src/guard/index.ts',
  'cluster/index': 'src/cluster/index.ts',
  'cluster/redis': 'src/cluster/redis.ts',
  'guard/register': 'src/guard/register.ts',
  'client/index': 'src/client/index.ts',
  'client/socketio': 'src/client/socketio.ts',
  'react/index': 'src/react/index.ts',
  'nestjs/index': 'src/nestjs/index.ts',
  'metrics/index': 'src/metrics/index.ts',
};

const common: Options = {
  sourcemap: true,
  // Cleaned once below: configs that each cleaned dist/ would delete each other's output.
  clean: false,
  target: 'node20',
  treeshake: true,
  // Peers stay imports, never bundled: a bundled React would be a second React.
  external: [
    'ws',
    'socket.io',
    'socket.io-client',
    'react',
    'ioredis',
    '@socket.io/redis-adapter',
    '@socket.io/redis-streams-adapter',
    'graphql',
    'graphql-ws',
    '@nestjs/common',
    '@nestjs/core',
    '@nestjs/websockets',
    'rxjs',
    'reflect-metadata',
    'prom-client',
  ],
};

export default defineConfig(() => {
  rmSync('dist', { recursive: true, force: true });
  return [
    {
      ...common,
      // The CLI and the demo are run, never imported: ESM only and no declarations, sharing the
      // library's chunks rather than carrying copies of them.
      entry: { ...library, 'cli/index': 'src/cli/index.ts', 'demo/start': 'src/demo/start.ts' },
      format: ['esm'],
      dts: { entry: library },
      splitting: true,
    },
    {
      ...common,
      entry: library,
      format: ['cjs'],
      dts: true,
      splitting: true,
      // import.meta.url in the CommonJS build (optional peers are loaded with createRequire).
      shims: true,
    },
    {
      ...common,
      // A browser worker script: one self-contained ES module, so that it can be served as it is
      // (no chunks to serve beside it), and no CommonJS build, which no worker would load.
      entry: { 'client/shared-worker': 'src/client/shared-worker.ts' },
      format: ['esm'],
      dts: true,
      splitting: false,
      platform: 'browser',
      target: 'es2022',
    },
  ];
});
