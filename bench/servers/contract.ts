/**
 * What every server variant of the bench provides, so that the server process, the load and the
 * measurements are identical around it and the variant is the only thing that differs.
 */
import type { Server } from 'node:http';

export interface BenchServer {
  /** Listening on 127.0.0.1. */
  server: Server;
  /** The WebSocket path the load connects to. */
  path: string;
  /** `'ws'` for plain WebSocket clients, `'socketio'` for socket.io-client. */
  protocol: 'ws' | 'socketio';
  /** Open connections now; the memory and ceiling measurements wait on it. */
  connections(): number;
  /** Fan-out variants: sends `message` to every connection, as the variant's users would. */
  broadcast?(message: string): unknown;
  /** Scale variant: some of its connections' user ids. */
  sampleUsers?(count: number): string[];
  /** Scale variant: `message` to each of these users' own rooms, wherever they are. */
  toUsers?(ids: string[], message: string): unknown;
}

export type StartServer = () => Promise<BenchServer>;

/** Echo text and binary frames alike: every variant does the same per-message work. */
export const ECHO_PATH = '/chat';
/** A second route on every routed variant, so that routing is a real choice, as in an app. */
export const OTHER_PATH = '/notifications/ws';

/**
 * A larger accept queue than Node's default of 511, for every variant alike: with 512 clients
 * connecting at once, a full queue drops SYNs and the 1 s retransmission would show up in p99 as
 * if it were the library's.
 */
export const BACKLOG = 2048;

export function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: BACKLOG }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}
