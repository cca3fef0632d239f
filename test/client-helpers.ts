import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type ConnectOptions,
  connect,
  type GapInfo,
  type MessageData,
  RESUME_PARAM,
  type RoomMessage,
  type SharedConnection,
} from '../src/client/index.js';
import { closeServer } from './helpers.js';

/*
 * What the switchboard/client test files share (client-recovery, client-requests, client-presence,
 * client-recovery-tabs, client-recovery-hubs): a scripted wire-format server, and connections
 * opened with quick retries and what they hear recorded.
 */

/** One connection as the test server saw it: its URL, its resume parameter decoded, what it sent. */
export interface Seen {
  ws: WebSocket;
  url: URL;
  resume: Record<string, [number, string]> | undefined;
  /** The raw `sb_resume` value, to check its length. */
  rawResume: string | undefined;
  received: Array<Record<string, unknown>>;
}

export interface WireServer {
  url: string;
  seen: Seen[];
  stop(): Promise<void>;
}

/**
 * A plain `ws` server that speaks the recovery wire format by hand: each test scripts what every
 * connection is sent, so the client is tested against the frames themselves, not against our server.
 */
export async function wireServer(script: (conn: Seen, index: number) => void, pages?: http.RequestListener): Promise<WireServer> {
  const server = http.createServer(pages);
  const wss = new WebSocketServer({ server });
  const seen: Seen[] = [];
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawResume = url.searchParams.get(RESUME_PARAM) ?? undefined;
    const resume =
      rawResume === undefined
        ? undefined
        : (JSON.parse(Buffer.from(rawResume, 'base64url').toString('utf8')) as Record<string, [number, string]>);
    const conn: Seen = { ws, url, resume, rawResume, received: [] };
    ws.on('message', (data) => conn.received.push(JSON.parse(String(data)) as Record<string, unknown>));
    seen.push(conn);
    script(conn, seen.length - 1);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    seen,
    stop: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}

export const send = (ws: WebSocket, frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
export const hello = (ws: WebSocket) => send(ws, { sb: 'hello', recover: true });
export const pos = (ws: WebSocket, room: string, offset: number, epoch = 'e1') => send(ws, { sb: 'pos', room, offset, epoch });
export const msg = (ws: WebSocket, room: string, offset: number, data: unknown, epoch = 'e1') =>
  send(ws, { sb: 'msg', room, offset, epoch, data });

/** Quick retries, so that a drop is followed by a reconnect at once. */
export const FAST: ConnectOptions = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 } };

export interface Heard {
  data: MessageData;
  message: RoomMessage | undefined;
}

/** Every connection a test opens, closed after each test by the file's `afterEach`. */
export const opened: SharedConnection[] = [];
export function open(
  url: string,
  options: ConnectOptions = {},
): { conn: SharedConnection; heard: Heard[]; gaps: GapInfo[]; errors: unknown[] } {
  const errors: unknown[] = [];
  const conn = connect(url, { ...FAST, onError: (error) => errors.push(error), ...options });
  opened.push(conn);
  const heard: Heard[] = [];
  const gaps: GapInfo[] = [];
  conn.subscribe((data, message) => heard.push({ data, message }));
  conn.onGap((gap) => gaps.push(gap));
  return { conn, heard, gaps, errors };
}
