import { defineConfig } from 'tsup';

export default defineConfig({
  // One entry per layer, so each is importable on its own (see package.json "exports").
  entry: {
    index: 'src/index.ts',
    'router/index': 'src/router/index.ts',
    'hub/index': 'src/hub/index.ts',
    'adapters/index': 'src/adapters/index.ts',
    'realtime/index': 'src/realtime/index.ts',
    'guard/index': 'src/guard/index.ts',
    'cluster/index': 'src/cluster/index.ts',
    'cluster/redis': 'src/cluster/redis.ts',
    'guard/register': 'src/guard/register.ts',
    'cli/index': 'src/cli/index.ts',
    'client/index': 'src/client/index.ts',
    'client/socketio': 'src/client/socketio.ts',
    'client/shared-worker': 'src/client/shared-worker.ts',
    'react/index': 'src/react/index.ts',
    'nestjs/index': 'src/nestjs/index.ts',
    'demo/start': 'src/demo/start.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
  // import.meta.url in the CommonJS build (optional peers are loaded with createRequire).
  shims: true,
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
  ],
});
