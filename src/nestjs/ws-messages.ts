import type { WsMessageHandler } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { ResultStreams } from './result-streams.js';

/** What a parser is given: text frames as a string, binary ones as `ws` delivers them (as Nest's `WsAdapter` does). */
export type WsFrame = string | Buffer | ArrayBuffer | Buffer[];

/** Turns a frame into `{ event, data }`; anything else (or a throw) drops the frame. */
export type WsMessageParser = (frame: WsFrame) => { event: unknown; data?: unknown } | null | undefined;

/** The frame format of Nest's own `WsAdapter`: JSON `{ "event": "...", "data": ... }`. */
export const jsonMessageParser: WsMessageParser = (frame) => JSON.parse(frame.toString());

/**
 * Routes a `ws` client's frames to the gateway's `@SubscribeMessage` handlers, with the semantics
 * of Nest's `WsAdapter`: unknown events and unparsable frames are ignored, a handler's non-null
 * result is sent back as JSON, a failing handler never silences the client's later messages, and
 * a handler's stream of results ends when the client goes.
 */
export function bindWsMessages(
  client: WebSocket,
  handlers: WsMessageHandler[],
  transform: (data: unknown) => Observable<unknown>,
  parse: WsMessageParser,
  onError: (error: unknown) => void,
): void {
  const byEvent = new Map(handlers.map((handler) => [handler.message as unknown, handler]));
  const streams = new ResultStreams(transform, onError);
  client.once('close', () => streams.endAll());
  client.on('message', (data: RawData, isBinary: boolean) => {
    let message: ReturnType<WsMessageParser>;
    try {
      message = parse(isBinary ? data : data.toString());
    } catch (error) {
      // The default parser throws on whatever a client sends: not worth a log line per frame.
      if (parse !== jsonMessageParser) onError(error);
      return;
    }
    const handler = message ? byEvent.get(message.event) : undefined;
    if (!message || !handler) return;
    streams.run(
      () => handler.callback(message.data, message.event),
      (response) => {
        if (client.readyState === client.OPEN) client.send(JSON.stringify(response));
      },
    );
  });
}
