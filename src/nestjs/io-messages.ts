import type { WsMessageHandler } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { Socket } from 'socket.io';
import { ResultStreams } from './result-streams.js';

/**
 * Routes a Socket.IO client's events to the gateway's `@SubscribeMessage` handlers, with the
 * semantics of Nest's `IoAdapter`: the last argument, when a function, is the acknowledgement; a
 * result `{ event, data }` is emitted back, any other non-null result answers the acknowledgement;
 * a handler's stream of results ends when the client disconnects.
 */
export function bindIoMessages(
  socket: Socket,
  handlers: WsMessageHandler[],
  transform: (data: unknown) => Observable<unknown>,
  onError: (error: unknown) => void,
): void {
  const streams = new ResultStreams(transform, onError);
  socket.once('disconnect', () => streams.endAll());
  for (const { message, callback, isAckHandledManually } of handlers) {
    socket.on(message, (...args: unknown[]) => {
      // As rxjs fromEvent hands it to IoAdapter: one argument alone, several as an array.
      const { data, ack } = mapPayload(args.length === 1 ? args[0] : args);
      streams.run(
        () => callback(data, ack),
        (response) => {
          const { event, data: payload } = response as { event?: string; data?: unknown };
          if (event) socket.emit(event, payload);
          else if (!isAckHandledManually && typeof ack === 'function') ack(response);
        },
      );
    });
  }
}

function mapPayload(payload: unknown): { data: unknown; ack?: (...args: unknown[]) => void } {
  if (!Array.isArray(payload)) {
    return typeof payload === 'function' ? { data: undefined, ack: payload as (...args: unknown[]) => void } : { data: payload };
  }
  const last = payload[payload.length - 1];
  if (typeof last !== 'function') return { data: payload };
  const size = payload.length - 1;
  return { data: size === 1 ? payload[0] : payload.slice(0, size), ack: last as (...args: unknown[]) => void };
}
