/** Whatever a WebSocket delivers: text as a string, binary as an ArrayBuffer (or a Blob if the app asked). */
export type MessageData = string | ArrayBuffer | Blob;

export type MessageHandler = (data: MessageData) => void;

/** The JSON shape `on(event)` understands and `emit(event, data)` sends: `{ "event": "name", "data": … }`. */
export interface EventMessage<T = unknown> {
  event: string;
  data: T;
}

export type EventHandler<T = unknown> = (data: T, message: EventMessage<T>) => void;

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
    const entry: MessageHandler = (data) => handler(data);
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
    const entry: EventHandler = (data, message) => handler(data as T, message as EventMessage<T>);
    handlers.add(entry);
    return () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.byEvent.get(event) === handlers) this.byEvent.delete(event);
    };
  }

  dispatch(data: MessageData): void {
    for (const handler of [...this.all]) {
      try {
        handler(data);
      } catch (error) {
        this.report(error);
      }
    }
    if (this.byEvent.size === 0) return;
    const message = decodeEvent(data);
    const handlers = message && this.byEvent.get(message.event);
    if (!message || !handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(message.data, message);
      } catch (error) {
        this.report(error);
      }
    }
  }
}
