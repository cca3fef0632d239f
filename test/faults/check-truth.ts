import type { Recorded } from './truth.js';

/** A place in a room's history: the epoch's rank among the room's epochs, and the offset. */
export interface Ptr {
  ei: number;
  o: number;
}

export const cmp = (a: Ptr, b: Ptr) => a.ei - b.ei || a.o - b.o;
export const keyOf = (pub: string, seq: number) => `${pub}#${seq}`;

/** Every Redis lifetime's streams, and what clients received with a position, as one history per room. */
export class Truth {
  private readonly epochs = new Map<string, string[]>();
  private readonly entries = new Map<string, Map<string, Map<number, Recorded>>>();
  private readonly sorted = new Map<string, Recorded[]>();
  readonly byPayload = new Map<string, Recorded[]>();
  readonly mismatches: Array<{ room: string; epoch: string; offset: number; recorded: Recorded; got: Recorded }> = [];

  addEpoch(room: string, epoch: string): void {
    const list = this.epochs.get(room) ?? [];
    if (!list.includes(epoch)) list.push(epoch);
    this.epochs.set(room, list);
  }

  /** Adds a recorded message; false when that position holds another one already. */
  add(recorded: Recorded): boolean {
    this.addEpoch(recorded.room, recorded.epoch);
    const room = this.entries.get(recorded.room) ?? new Map<string, Map<number, Recorded>>();
    this.entries.set(recorded.room, room);
    const epoch = room.get(recorded.epoch) ?? new Map<number, Recorded>();
    room.set(recorded.epoch, epoch);
    const there = epoch.get(recorded.offset);
    if (there) return there.pub === recorded.pub && there.seq === recorded.seq;
    epoch.set(recorded.offset, recorded);
    this.sorted.delete(`${recorded.room}\u0000${recorded.epoch}`);
    const key = keyOf(recorded.pub, recorded.seq);
    this.byPayload.set(key, [...(this.byPayload.get(key) ?? []), recorded]);
    return true;
  }

  knows(room: string, epoch: string): boolean {
    return this.epochs.get(room)?.includes(epoch) ?? false;
  }

  epochIndex(room: string, epoch: string): number {
    return this.epochs.get(room)?.indexOf(epoch) ?? -1;
  }

  epochsOf(room: string): string[] {
    return this.epochs.get(room) ?? [];
  }

  at(room: string, epoch: string, offset: number): Recorded | undefined {
    return this.entries.get(room)?.get(epoch)?.get(offset);
  }

  ptrOf(recorded: Recorded): Ptr {
    return { ei: this.epochIndex(recorded.room, recorded.epoch), o: recorded.offset };
  }

  inEpoch(room: string, epoch: string): Recorded[] {
    const key = `${room}\u0000${epoch}`;
    let list = this.sorted.get(key);
    if (!list) {
      list = [...(this.entries.get(room)?.get(epoch)?.values() ?? [])].sort((a, b) => a.offset - b.offset);
      this.sorted.set(key, list);
    }
    return list;
  }

  /** Recorded messages after `from` and before `to` (or at it, `inclusive`). */
  between(room: string, from: Ptr, to: Ptr, inclusive: boolean): Recorded[] {
    const found: Recorded[] = [];
    const epochs = this.epochsOf(room);
    for (let ei = from.ei; ei <= to.ei; ei++) {
      for (const recorded of this.inEpoch(room, epochs[ei] as string)) {
        const here = { ei, o: recorded.offset };
        const lower = cmp(here, from) > 0;
        const upper = inclusive ? cmp(here, to) <= 0 : cmp(here, to) < 0;
        if (lower && upper) found.push(recorded);
      }
    }
    return found;
  }

  /** The last recorded message of the room. */
  last(room: string): Ptr | undefined {
    const epochs = this.epochsOf(room);
    for (let ei = epochs.length - 1; ei >= 0; ei--) {
      const list = this.inEpoch(room, epochs[ei] as string);
      const last = list[list.length - 1];
      if (last) return { ei, o: last.offset };
    }
    return undefined;
  }
}
