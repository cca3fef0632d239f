/**
 * Idle connections held open: for memory per connection and for the connection ceiling. Clients
 * bind to several source addresses in 127.0.0.0/8 in turn, each with its own ~28k ephemeral ports,
 * so the client side does not run out of ports before the server runs out of something else.
 */
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { FANOUT_EVENT } from '../servers/fanout-protocol.js';
import { received } from './fanout.js';
import { countError } from './window.js';

export interface HoldJob {
  /** `ws://127.0.0.1:port/path`, or `http://127.0.0.1:port` for Socket.IO. */
  url: string;
  protocol: 'ws' | 'socketio';
  /** Socket.IO's path. */
  path?: string;
  count: number;
  addresses: string[];
  /** Handshakes in flight at once. */
  inFlight: number;
  timeBudgetMs: number;
  /** Give up after this many failures in a row: whatever limits the count has been reached. */
  maxConsecutiveErrors: number;
  /** Count the fan-out messages each connection receives (see fanout.ts). */
  countMessages?: boolean;
}

export interface HoldResult {
  opened: number;
  open: number;
  errors: Record<string, number>;
  stoppedBy: 'count' | 'errors' | 'time' | 'stop';
  ms: number;
}

interface Held {
  close(): void;
  closed(): boolean;
}

const held: Held[] = [];
let stopRequested = false;

export function stopOpening(): void {
  stopRequested = true;
}

export async function hold(job: HoldJob): Promise<HoldResult> {
  stopRequested = false;
  const errors: Record<string, number> = {};
  const startedAt = performance.now();
  let opened = 0;
  let attempted = 0;
  let pending = 0;
  let consecutiveErrors = 0;
  let stoppedBy: HoldResult['stoppedBy'] | undefined;

  const shouldStop = (): HoldResult['stoppedBy'] | undefined => {
    if (stopRequested) return 'stop';
    if (opened >= job.count) return 'count';
    if (consecutiveErrors >= job.maxConsecutiveErrors) return 'errors';
    if (performance.now() - startedAt > job.timeBudgetMs) return 'time';
    return undefined;
  };

  await new Promise<void>((resolve) => {
    const pump = (): void => {
      stoppedBy ??= shouldStop();
      while (!stoppedBy && pending < job.inFlight && attempted < job.count) {
        const localAddress = job.addresses[attempted % job.addresses.length] as string;
        attempted++;
        pending++;
        openOne(job, localAddress, (error) => {
          pending--;
          if (error) {
            consecutiveErrors++;
            // A failed slot is tried again so the count is reached if the failure was passing.
            attempted--;
            countError(errors, error);
          } else {
            consecutiveErrors = 0;
            opened++;
          }
          // Yield between handshakes so the parent's stop and the timers get a turn.
          setImmediate(pump);
        });
      }
      if (pending === 0 && (stoppedBy || attempted >= job.count)) resolve();
    };
    pump();
    // A stop must end a hold even when handshakes are stuck in flight (a server past its fd limit
    // may never answer them); those still pending are kept if they open later, and released too.
    const timer = setInterval(() => {
      stoppedBy ??= shouldStop();
      if (stoppedBy) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    timer.unref();
  });
  return {
    opened,
    open: held.filter((entry) => !entry.closed()).length,
    errors,
    stoppedBy: stoppedBy ?? 'count',
    ms: performance.now() - startedAt,
  };
}

/** Closes everything held; usually the server is gone already and this only forgets them. */
export async function release(): Promise<number> {
  const count = held.length;
  for (const entry of held.splice(0)) entry.close();
  return count;
}

function openOne(job: HoldJob, localAddress: string, done: (error?: unknown) => void): void {
  let settled = false;
  const settle = (error?: unknown) => {
    if (settled) return;
    settled = true;
    done(error);
  };
  if (job.protocol === 'socketio') {
    // localAddress reaches engine.io-client's ws transport; socket.io-client's types do not list it.
    const socket: Socket = ioClient(job.url, {
      path: job.path,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 20_000,
      localAddress,
    } as Parameters<typeof ioClient>[1]);
    if (job.countMessages) socket.on(FANOUT_EVENT, received);
    socket.once('connect', () => {
      held.push({ close: () => socket.disconnect(), closed: () => socket.disconnected });
      settle();
    });
    socket.once('connect_error', (error) => {
      socket.close();
      settle(error);
    });
    return;
  }
  const ws = new WebSocket(job.url, { perMessageDeflate: false, localAddress, handshakeTimeout: 20_000 });
  ws.on('error', (error) => settle(error));
  if (job.countMessages) ws.on('message', received);
  ws.once('open', () => {
    held.push({ close: () => ws.terminate(), closed: () => ws.readyState === WebSocket.CLOSED });
    settle();
  });
  ws.once('close', () => settle(new Error('closed before open')));
}
