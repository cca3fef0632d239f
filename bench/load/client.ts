/**
 * A load process of the bench: `node --import tsx bench/load/client.ts`. Plain `ws` clients (and
 * socket.io-client for Socket.IO), driven by the parent over IPC, one job at a time; only ever to
 * 127.0.0.0/8.
 */
import { emitEvent, serveRequests } from '../ipc.js';
import { runEcho } from './echo.js';
import { awaitDelivery, resetDeliveries } from './fanout.js';
import { runHandshakes } from './handshakes.js';
import { hold, release, stopOpening } from './hold.js';

const LOOPBACK = /^(?:ws|http):\/\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d+)?\//;

/** The bench sends traffic to loopback only; a job naming anything else is a bug, refused here. */
function loopbackOnly<T extends { url: string }>(run: (job: T) => unknown): (args: unknown) => unknown {
  return (args) => {
    const job = args as T;
    if (!LOOPBACK.test(job.url.endsWith('/') ? job.url : `${job.url}/`))
      throw new Error(`refusing non-loopback target ${job.url}`);
    return run(job);
  };
}

serveRequests({
  handshake: loopbackOnly(runHandshakes),
  echo: loopbackOnly(runEcho),
  hold: loopbackOnly(hold),
  stop: () => stopOpening(),
  release: () => release(),
  memory: () => process.memoryUsage(),
  'fanout-wait': (args) => awaitDelivery(args as Parameters<typeof awaitDelivery>[0]),
  'fanout-reset': () => resetDeliveries(),
});
emitEvent('ready');
