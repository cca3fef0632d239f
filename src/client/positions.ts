import { base64Length, MAX_RESUME_CHARS, type RoomMessage, resumeEntry, toBase64Url } from './recovery-protocol.js';

interface Known {
  offset: number;
  epoch: string;
  /** Order of the last update, for choosing which rooms go into a resume that cannot hold them all. */
  touched: number;
  /** A gap was reported after this position and nothing has placed the room since (see `gapped`). */
  gapped: boolean;
}

/** A room's position as handed between tabs: `gapped` when a gap was reported after it. */
export type KnownPosition = RoomMessage & { gapped?: true };

/** One stored room: room, offset, epoch, and `true` when a gap was reported after that position. */
export type StoredPosition = [room: string, offset: number, epoch: string, gapped?: true];

/** What the next connection attempt asks to resume from. */
export interface Resume {
  /** The `sb_resume` value, or undefined when no position is known. */
  param: string | undefined;
  /** Rooms with a position that did not fit under the length limit. */
  omitted: Set<string>;
}

/** Where positions outlive the connection object (`keepPositions: 'session'`). */
export interface PositionStore {
  load(): StoredPosition[];
  save(entries: StoredPosition[]): void;
}

/** The last known position of every room this connection got a position or message for. */
export class Positions {
  private readonly rooms = new Map<string, Known>();
  private clock = 0;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly store?: PositionStore) {
    for (const [room, offset, epoch, gapped] of store?.load() ?? []) {
      this.rooms.set(room, { offset, epoch, touched: ++this.clock, gapped: gapped === true });
    }
  }

  get size(): number {
    return this.rooms.size;
  }

  get(room: string): RoomMessage | undefined {
    const known = this.rooms.get(room);
    return known && { room, offset: known.offset, epoch: known.epoch };
  }

  /** Whether a message at this position was already seen (same epoch, not past the known offset). */
  seen(position: RoomMessage): boolean {
    const known = this.rooms.get(position.room);
    return known !== undefined && known.epoch === position.epoch && position.offset <= known.offset;
  }

  /** The room is placed here: a gap reported before is over. */
  set(position: RoomMessage): void {
    this.rooms.set(position.room, { offset: position.offset, epoch: position.epoch, touched: ++this.clock, gapped: false });
    this.scheduleSave();
  }

  /**
   * A gap was reported for `room`: what it missed after its position is not coming, and the app
   * reloads instead. Until the next position places it, the room is left out of the resume, since
   * resuming from before the hole could replay it on top of the reload; the old position stays, to
   * tell whether the stream moved on meanwhile when a new socket places the room.
   */
  gapped(room: string): void {
    const known = this.rooms.get(room);
    if (!known || known.gapped) return;
    known.gapped = true;
    this.scheduleSave();
  }

  /** Whether a gap was reported for `room` and no position has placed it since. */
  isGapped(room: string): boolean {
    return this.rooms.get(room)?.gapped === true;
  }

  /**
   * Takes positions learnt elsewhere (another tab's host) where they are newer than ours, or come
   * after a gap: after one, the next position is the room's new base, whatever it is.
   */
  merge(position: KnownPosition): void {
    if (position.gapped) {
      this.set(position);
      this.gapped(position.room);
    } else if (this.isGapped(position.room) || !this.seen(position)) {
      this.set(position);
    }
  }

  entries(): KnownPosition[] {
    return [...this.rooms].map(([room, known]) =>
      known.gapped
        ? { room, offset: known.offset, epoch: known.epoch, gapped: true }
        : { room, offset: known.offset, epoch: known.epoch },
    );
  }

  /**
   * The resume parameter: every room when they fit in `MAX_RESUME_CHARS`, else the most recently
   * updated ones, as many as fit; the rooms left out are returned so that their loss is reported.
   * Rooms with a gap reported since their position are never in it (see `gapped`).
   */
  resume(maxChars = MAX_RESUME_CHARS): Resume {
    const omitted = new Set<string>();
    if (this.rooms.size === 0) return { param: undefined, omitted };
    const encoder = new TextEncoder();
    const newestFirst = [...this.rooms].sort((a, b) => b[1].touched - a[1].touched);
    const members: string[] = [];
    let bytes = 2; // the braces
    for (const [room, known] of newestFirst) {
      if (known.gapped) continue;
      const member = resumeEntry(room, known.offset, known.epoch);
      const added = encoder.encode(member).length + (members.length > 0 ? 1 : 0);
      if (base64Length(bytes + added) > maxChars) {
        omitted.add(room);
        continue;
      }
      members.push(member);
      bytes += added;
    }
    return { param: members.length > 0 ? toBase64Url(`{${members.join(',')}}`) : undefined, omitted };
  }

  /** Writes now whatever is waiting (the page is going away). */
  flush(): void {
    if (this.saveTimer === undefined) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.save();
  }

  /** Coalesced: a burst of messages costs one storage write, not one per message. */
  private scheduleSave(): void {
    if (!this.store || this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 200);
  }

  private save(): void {
    // Oldest first, so that loading them back in order restores which rooms are the most recent.
    const oldestFirst = [...this.rooms].sort((a, b) => a[1].touched - b[1].touched);
    this.store?.save(
      oldestFirst.map(
        ([room, known]): StoredPosition =>
          known.gapped ? [room, known.offset, known.epoch, true] : [room, known.offset, known.epoch],
      ),
    );
  }
}
