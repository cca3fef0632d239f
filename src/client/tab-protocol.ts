import type { Outgoing } from './base-connection.js';
import type { ConnectOptions } from './options.js';
import type { GapInfo, PresenceInfo, RoomMessage } from './recovery-protocol.js';
import type { Settled } from './requests.js';
import type { Target } from './resolve-target.js';
import type { ConnectionState } from './state.js';
import type { MessageData } from './subscribers.js';

/** What the tab that holds the socket (or the SharedWorker) tells the others. */
export type HostMessage =
  /** `holder` names the elected tab, so that the others notice a new one even if the last left without a word. */
  | { type: 'state'; state: ConnectionState; holder?: string }
  | { type: 'message'; data: MessageData; room?: RoomMessage }
  | { type: 'gap'; gap: GapInfo }
  | { type: 'presence'; presence: PresenceInfo }
  /** Elected tab only: every room position, so that whichever tab takes over next resumes from it. */
  | { type: 'position'; position: RoomMessage }
  /** Sent to every tab; only the one that made request `id` has it pending. */
  | { type: 'answer'; id: string; outcome: Settled }
  /** The holder is going away; sends wait until the next one speaks. */
  | { type: 'bye' }
  /** SharedWorker only: the worker cannot run the page's URL and token functions, so a tab does. */
  | { type: 'resolve'; id: number }
  | { type: 'error'; message: string };

/** What the other tabs tell the holder. */
export type GuestMessage =
  | { type: 'hello'; key: string; options: PortableOptions }
  | { type: 'send'; data: Outgoing }
  | { type: 'request'; id: string; event: string; data: unknown; timeoutMs: number }
  | { type: 'reconnect' }
  | { type: 'resolved'; id: number; target?: Target; error?: string }
  | { type: 'bye' };

/** The options that survive structured cloning into a worker: no functions. */
export type PortableOptions = Pick<ConnectOptions, 'binaryType'> & {
  reconnect?:
    | false
    | { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number; stableAfterMs?: number; stopOnCodes?: number[] };
  heartbeat?: boolean | { intervalMs?: number; timeoutMs?: number; ping?: string };
  queue?: { max?: number; overflow?: 'drop-oldest' | 'drop-newest' | 'throw' };
};

export function portableOptions(options: ConnectOptions): PortableOptions {
  const { reconnect, heartbeat, queue, binaryType } = options;
  const portable: PortableOptions = {};
  if (binaryType !== undefined) portable.binaryType = binaryType;
  if (reconnect !== undefined) {
    portable.reconnect =
      reconnect === false
        ? false
        : {
            baseDelayMs: reconnect.baseDelayMs,
            maxDelayMs: reconnect.maxDelayMs,
            maxAttempts: reconnect.maxAttempts,
            stableAfterMs: reconnect.stableAfterMs,
            stopOnCodes: reconnect.stopOnCodes ? [...reconnect.stopOnCodes] : undefined,
          };
  }
  if (heartbeat !== undefined) {
    portable.heartbeat =
      typeof heartbeat === 'boolean'
        ? heartbeat
        : { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs, ping: heartbeat.ping };
  }
  if (queue !== undefined) portable.queue = { max: queue.max, overflow: queue.overflow };
  return JSON.parse(JSON.stringify(portable)) as PortableOptions;
}

/** Channel and lock names of one shared connection. */
export function channelName(key: string): string {
  return `switchboard:${key}`;
}
