/**
 * The child side of the bench's IPC: a server or load process answers numbered requests from the
 * parent and may push events (a measurement window opening, a server error). Kept tiny so that a
 * child process loads nothing the figures could notice.
 */

export interface Request {
  id: number;
  cmd: string;
  args?: unknown;
}

export interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface Event {
  event: string;
  data?: unknown;
}

export type Handlers = Record<string, (args: unknown) => unknown | Promise<unknown>>;

/** Answers the parent's requests with `handlers`; exits when the parent goes away. */
export function serveRequests(handlers: Handlers): void {
  if (!process.send) throw new Error('bench child started without an IPC channel; run it through bench/run.ts');
  // An orphaned child would keep sockets open on the machine; the parent's death ends it.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd];
    if (!handler) {
      send({ id: message.id, ok: false, error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => send({ id: message.id, ok: true, result }),
        (error: unknown) => send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) }),
      );
  });
}

export function emitEvent(event: string, data?: unknown): void {
  send({ event, data });
}

function send(message: Reply | Event): void {
  if (process.connected) process.send?.(message);
}
