import * as ws from 'ws';
import { WebSocket } from 'ws';

/** What to do with a recipient whose unsent data is over the limit. */
export interface SlowConsumerPolicy {
  /** Bytes a connection may have buffered (`ws.bufferedAmount`) before the policy applies. Default 1 MiB. */
  maxBufferedBytes: number;
  /** `'close'` (default): close it with 1013 "try again later"; `'skip'`: leave it out of this message. */
  onSlow: 'close' | 'skip';
}

export const DEFAULT_SLOW_CONSUMER_POLICY: SlowConsumerPolicy = { maxBufferedBytes: 1024 * 1024, onSlow: 'close' };

export const SLOW_CLOSE_CODE = 1013;
export const SLOW_CLOSE_REASON = 'too slow: messages were piling up';

export interface BroadcastResult {
  sent: number;
  skipped: number;
  closed: number;
}

type Frames = Buffer[];
type SenderInternals = { _state?: number; _queue?: unknown[]; _firstFragment?: boolean; sendFrame?: (frames: Frames) => void };
// A named export of ws (its types do not declare it); absent, every recipient goes through ws.send.
const { Sender } = ws as unknown as { Sender?: { frame(data: Buffer, options: object): Frames } };

/**
 * Sends one message to many `ws` connections, framing it once: the payload is turned into a
 * Buffer once, its frame header built once and joined to it, and that one buffer is written to
 * every socket whose sender is idle: a single write per socket, where `ws.send` converts, frames
 * and corks two writes for each recipient. A socket with something queued (compression in progress, an
 * earlier message still waiting) gets the message through `ws.send`, after what it has queued, so
 * order is kept per connection. Recipients over the buffered-bytes limit are skipped or closed.
 */
export function broadcast(
  recipients: Iterable<WebSocket>,
  data: string | Buffer,
  binary: boolean,
  policy: SlowConsumerPolicy = DEFAULT_SLOW_CONSUMER_POLICY,
): BroadcastResult {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  let frames: Frames | undefined;
  const result: BroadcastResult = { sent: 0, skipped: 0, closed: 0 };
  for (const socket of recipients) {
    if (socket.readyState !== WebSocket.OPEN) continue;
    if (socket.bufferedAmount > policy.maxBufferedBytes) {
      if (policy.onSlow === 'close') {
        socket.close(SLOW_CLOSE_CODE, SLOW_CLOSE_REASON);
        result.closed++;
      } else {
        result.skipped++;
      }
      continue;
    }
    const sender = (socket as unknown as { _sender?: SenderInternals })._sender;
    if (Sender && sender?.sendFrame && sender._state === 0 && sender._queue?.length === 0 && sender._firstFragment !== false) {
      frames ??= [
        Buffer.concat(Sender.frame(payload, { fin: true, rsv1: false, opcode: binary ? 2 : 1, mask: false, readOnly: true })),
      ];
      sender.sendFrame(frames);
    } else {
      socket.send(payload, { binary });
    }
    result.sent++;
  }
  return result;
}
