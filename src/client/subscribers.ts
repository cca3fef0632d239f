import type { RoomMessage } from './recovery-protocol.js';

/** Whatever a WebSocket delivers: text as a string, binary as an ArrayBuffer (or a Blob if the app asked). */
export type MessageData = string | ArrayBuffer | Blob;

/**
 * `message` is the room position of a room message on a route with `recover: true`, and undefined
 * for every other message, so that `if (message)` tells them apart.
 */
export type MessageHandler = (data: MessageData, message?: RoomMessage) => void;

/** The JSON shape `on(event)` understands and `emit(event, data)` sends: `{ "event": "name", "data": … }`. */
export interface EventMessage<T = unknown> {
  event: string;
  data: T;
}

/** `message` is the event itself, with `room`, `offset` and `epoch` added for a room message. */
export type EventHandler<T = unknown> = (data: T, message: EventMessage<T> & Partial<RoomMessage>) => void;

/** `{ event, data }` as a JSON string. */
export function encodeEvent(event: string, data?: unknown): string {
  return JSON.stringify(data === undefined ? { event } : { event, data });
}

/** The event message in `data`, if it is one; anything else is left to `subscribe` handlers. */
export function decodeEvent(data: MessageData): EventMessage | undefined {
  if (typeof data !== 'string' || !data.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as EventMessage).event === 'string') {
      return parsed as EventMessage;
    }
  } catch {
    // Not JSON: a plain-text message, for subscribe() only.
  }
  return undefined;
}

/**
 * The handlers of one connection. Each runs in its own try/catch: one component's bug must not
 * silence the others that share the socket.
 */
export class Subscribers {
  private readonly all = new Set<MessageHandler>();
  private readonly byEvent = new Map<string, Set<EventHandler>>();

  constructor(private readonly report: (error: unknown) => void) {}

  subscribe(handler: MessageHandler): () => void {
    // A wrapper per call, so subscribing the same function twice gives two independent subscriptions.
    const entry: MessageHandler = (data, message) => handler(data, message);
    this.all.add(entry);
    return () => {
      this.all.delete(entry);
    };
  }

  on<T>(event: string, handler: EventHandler<T>): () => void {
    let handlers = this.byEvent.get(event);
    if (!handlers) {
      handlers = new Set();
      this.byEvent.set(event, handlers);
    }
    const entry: EventHandler = (data, message) => handler(data as T, message as EventMessage<T> & Partial<RoomMessage>);
    handlers.add(entry);
    return () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.byEvent.get(event) === handlers) this.byEvent.delete(event);
    };
  }

  dispatch(data: MessageData, room?: RoomMessage): void {
    for (const handler of [...this.all]) {
      try {
        handler(data, room);
      } catch (error) {
        this.report(error);
      }
    }
    if (this.byEvent.size === 0) return;
    const message = decodeEvent(data);
    const handlers = message && this.byEvent.get(message.event);
    if (!message || !handlers) return;
    const full = room ? { ...message, room: room.room, offset: room.offset, epoch: room.epoch } : message;
    for (const handler of [...handlers]) {
      try {
        handler(message.data, full);
      } catch (error) {
        this.report(error);
      }
    }
  }
}
