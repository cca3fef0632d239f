import { ClientError } from './errors.js';
import { type PositionStore, Positions } from './positions.js';
import {
  fromBase64,
  type GapInfo,
  type GapReason,
  isAnyHello,
  isHello,
  type PresenceInfo,
  parseControl,
  positionOf,
  presenceOf,
  RESUME_PARAM,
  type RoomMessage,
} from './recovery-protocol.js';
import { type OutgoingRequest, Requests } from './requests.js';
import type { MessageData } from './subscribers.js';

export interface RecoveryHooks {
  /** A message for subscribers, with its room position when it came from a room stream. */
  deliver(data: MessageData, message?: RoomMessage): void;
  gap(gap: GapInfo): void;
  /** A `presence` frame of a route with `presence: true`. */
  presence?(presence: PresenceInfo): void;
  /**
   * A position from a `pos` frame, for tabs that may take over the socket. Not called for `msg`
   * frames: their position travels with the message itself, to the same tabs.
   */
  position?(position: RoomMessage): void;
  report(error: unknown): void;
}

const GAP_REASONS: readonly string[] = ['expired', 'epoch', 'unknown'];

/**
 * Reads one connection's frames the way its route speaks: a route whose first frame is the
 * `hello` of recovery has its `sb` frames taken out of the stream and acted on; any other route is
 * left exactly as it was. Keeps the positions that the next attempt resumes from.
 */
export class Recovery {
  readonly positions: Positions;
  readonly requests: Requests;
  /** Per socket: undefined until its first frame says whether the route recovers. */
  private recovering: boolean | undefined;
  /** Per socket: whether the route's first frame was a `hello` (recovering, presence, or both). */
  private speaks = false;
  /** Rooms placed (`pos`) or reported (`gap`) on the current socket. */
  private readonly settled = new Set<string>();

  constructor(
    private readonly hooks: RecoveryHooks,
    private readonly binaryType: 'arraybuffer' | 'blob',
    transmit: (request: OutgoingRequest) => boolean,
    store?: PositionStore,
  ) {
    this.positions = new Positions(store);
    this.requests = new Requests(transmit);
  }

  /**
   * The URL of the next attempt: `url` with the positions to resume from, when there are any. Rooms
   * that do not fit, or that had a gap reported and were not placed since, are not resumed: their
   * `pos` shows whether the stream moved on, and `placed` reports the gap.
   */
  dialUrl(url: string): string {
    const { param } = this.positions.resume();
    if (param === undefined) return url;
    const parsed = new URL(url);
    parsed.searchParams.set(RESUME_PARAM, param);
    return parsed.href;
  }

  /** A new socket is open. */
  opened(): void {
    this.recovering = undefined;
    this.speaks = false;
    this.settled.clear();
    this.requests.flush();
  }

  receive(data: MessageData): void {
    const frame = parseControl(data);
    if (this.recovering === undefined) {
      this.recovering = isHello(frame);
      this.speaks = isAnyHello(frame);
      if (this.speaks) return;
    }
    if (!frame) {
      this.hooks.deliver(data);
      return;
    }
    if (!this.speaks) {
      // Without recovery `sb` means nothing to the route; only the answer to one of our own requests is ours.
      if (!(frame.sb === 'res' && this.requests.answer(frame))) this.hooks.deliver(data);
      return;
    }
    this.control(frame);
  }

  private control(frame: { sb: string; [key: string]: unknown }): void {
    switch (frame.sb) {
      case 'msg':
        this.message(frame);
        return;
      case 'pos':
        this.placed(frame);
        return;
      case 'gap': {
        const { room, reason } = frame;
        if (typeof room !== 'string') {
          this.malformed(frame);
          return;
        }
        this.settled.add(room);
        // The room's position is from before the hole: not resumed from, and the next one is its new base.
        this.positions.gapped(room);
        this.hooks.gap({
          room,
          reason: typeof reason === 'string' && GAP_REASONS.includes(reason) ? (reason as GapReason) : 'unknown',
        });
        return;
      }
      case 'res':
        this.requests.answer(frame);
        return;
      case 'presence': {
        const presence = presenceOf(frame);
        if (presence) this.hooks.presence?.(presence);
        else this.malformed(frame);
        return;
      }
      case 'error':
        this.hooks.report(
          new ClientError(
            typeof frame.code === 'string' ? frame.code : 'ERR_SERVER',
            `switchboard/client: the server says: ${typeof frame.message === 'string' ? frame.message : JSON.stringify(frame)}`,
          ),
        );
        return;
      default:
        // `sb` is reserved on a recovering route: a kind this client does not know yet is not the app's either.
        return;
    }
  }

  private message(frame: { [key: string]: unknown }): void {
    const position = positionOf(frame);
    if (!position) {
      this.malformed(frame);
      return;
    }
    // A replay that overlaps what was already delivered; the server should not send it, but the app must not see it twice.
    if (this.positions.seen(position)) return;
    const data = this.payload(frame);
    if (data === undefined) {
      this.malformed(frame);
      return;
    }
    const hole = this.hole(position);
    if (hole) this.hooks.gap({ room: position.room, reason: hole });
    this.positions.set(position);
    this.hooks.deliver(data, position);
  }

  /**
   * Why a message not seen yet does not follow the room's known position: messages in between
   * never came (`skipped`), or the stream's history was lost (`epoch`). Nothing to say for a room
   * with no position yet (its `pos` places it), nor right after a `gap` frame on this socket (that
   * hole was reported, and this message is the room's new base).
   */
  private hole(position: RoomMessage): GapReason | undefined {
    const known = this.positions.get(position.room);
    if (!known || (this.settled.has(position.room) && this.positions.isGapped(position.room))) return undefined;
    if (known.epoch !== position.epoch) return 'epoch';
    return position.offset > known.offset + 1 ? 'skipped' : undefined;
  }

  /** What the same publish would have been on a route without recovery: a text frame, or a binary one. */
  private payload(frame: { [key: string]: unknown }): MessageData | undefined {
    if (frame.encoding !== 'base64') return typeof frame.data === 'string' ? frame.data : JSON.stringify(frame.data ?? null);
    if (typeof frame.data !== 'string') return undefined;
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = fromBase64(frame.data);
    } catch {
      return undefined;
    }
    return this.binaryType === 'blob' && typeof Blob === 'function' ? new Blob([bytes]) : bytes.buffer;
  }

  private placed(frame: { [key: string]: unknown }): void {
    const position = positionOf(frame);
    if (!position) {
      this.malformed(frame);
      return;
    }
    const known = this.positions.get(position.room);
    const first = !this.settled.has(position.room);
    this.settled.add(position.room);
    // The stream moved on past what we had and nothing said so: a room left out of the resume
    // parameter (too many rooms, or a gap reported on an earlier socket and not placed since: its
    // stream may have moved on while the client was away too), or a server that could not replay.
    // Reported, so that nothing is lost silently.
    if (first && known && (known.epoch !== position.epoch || position.offset > known.offset)) {
      this.hooks.gap({ room: position.room, reason: known.epoch !== position.epoch ? 'epoch' : 'unknown' });
    }
    this.positions.set(position);
    this.hooks.position?.(position);
  }

  private malformed(frame: unknown): void {
    this.hooks.report(new ClientError('ERR_SERVER', `switchboard/client: malformed frame ignored: ${JSON.stringify(frame)}`));
  }
}
