/**
 * Where a bench process takes Switchboard from: the build of bench/build-library.ts when the
 * parent made one (the code users run), else src/ through tsx. Types always come from src/.
 */
import { pathToFileURL } from 'node:url';

type Index = typeof import('../src/index.js');
type Router = typeof import('../src/router/index.js');
type Redis = typeof import('../src/cluster/redis.js');
type RequestTarget = typeof import('../src/hub/request-target.js');
type Metrics = typeof import('../src/metrics/index.js');

/** Read when asked, not at import: bench/run.ts sets it after importing this module. */
const libraryDir = () => process.env.SWITCHBOARD_BENCH_LIB;

function built<T>(name: string): Promise<T> {
  return import(pathToFileURL(`${libraryDir()}/${name}.mjs`).href) as Promise<T>;
}

export function loadIndex(): Promise<Index> {
  return libraryDir() ? built<Index>('index') : import('../src/index.js');
}

export function loadRouter(): Promise<Router> {
  return libraryDir() ? built<Router>('router') : import('../src/router/index.js');
}

export function loadRedis(): Promise<Redis> {
  return libraryDir() ? built<Redis>('redis') : import('../src/cluster/redis.js');
}

export function loadMetrics(): Promise<Metrics> {
  return libraryDir() ? built<Metrics>('metrics') : import('../src/metrics/index.js');
}

export function loadRequestTarget(): Promise<RequestTarget> {
  return libraryDir() ? built<RequestTarget>('request-target') : import('../src/hub/request-target.js');
}

/** The guard's `--import` target: the built register, or src/guard/register.ts through tsx. */
export function guardRegister(): string {
  return libraryDir() ? `${libraryDir()}/register.mjs` : './src/guard/register.ts';
}

export function librarySource(): 'build' | 'source' {
  return libraryDir() ? 'build' : 'source';
}
