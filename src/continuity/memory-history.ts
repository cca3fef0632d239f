import { randomBytes } from 'node:crypto';
import {
  type AppendResult,
  type FrameParts,
  frameOf,
  type HistoryOptions,
  type HistoryStore,
  type Position,
  type ReadResult,
} from './history.js';

interface Entry {
  offset: number;
  at: number;
  frame: string;
}

/** One room's stream: a ring of its newest entries, its last offset and its epoch. */
class Stream {
  readonly epoch = randomBytes(6).toString('base64url');
  last = 0;
  lastAt = Date.now();
  private readonly ring: (Entry | undefined)[];
  private start = 0;
  private count = 0;

  constructor(private readonly options: HistoryOptions) {
    this.ring = new Array(options.size);
  }

  push(entry: Entry): void {
    const size = this.options.size;
    this.ring[(this.start + this.count) % size] = entry;
    if (this.count < size) this.count++;
    else this.start = (this.start + 1) % size;
    this.last = entry.offset;
    this.lastAt = entry.at;
  }

  /** Drops what is older than the history's age. */
  prune(now: number): void {
    const oldest = now - this.options.ttlMs;
    while (this.count > 0 && (this.ring[this.start] as Entry).at < oldest) {
      this.ring[this.start] = undefined;
      this.start = (this.start + 1) % this.options.size;
      this.count--;
    }
  }

  /** The offset of the oldest entry kept; `last + 1` when none is. */
  get oldest(): number {
    return this.count > 0 ? (this.ring[this.start] as Entry).offset : this.last + 1;
  }

  after(offset: number): string[] {
    const frames: string[] = [];
    for (let index = 0; index < this.count; index++) {
      const entry = this.ring[(this.start + index) % this.options.size] as Entry;
      if (entry.offset > offset) frames.push(entry.frame);
    }
    return frames;
  }
}

/**
 * How long a room's position (offset and epoch, a few bytes) outlives its last message: a client
 * idle for that long, whose room got nothing meanwhile, still resumes without a gap.
 */
const POSITION_KEPT_MS = 60 * 60_000;

/**
 * History in this process: what the memory broker keeps, shared by the hubs that share the
 * broker. A room's stream is forgotten (and its epoch with it) once it keeps no message and
 * nothing was published to it for an hour, or for the history's age if that is longer.
 */
export class MemoryHistory implements HistoryStore {
  private readonly streams = new Map<string, Stream>();
  private readonly sweep: NodeJS.Timeout;

  constructor(readonly options: HistoryOptions) {
    this.sweep = setInterval(() => this.forgetIdle(), 60_000);
    this.sweep.unref();
  }

  append(room: string, parts: FrameParts): AppendResult {
    const stream = this.stream(room);
    const now = Date.now();
    stream.prune(now);
    const position = { offset: stream.last + 1, epoch: stream.epoch };
    const frame = frameOf(parts, position);
    stream.push({ offset: position.offset, at: now, frame });
    return { position, frame, published: false };
  }

  read(room: string, from: Position | undefined): ReadResult {
    const stream = this.stream(room);
    const position = { offset: stream.last, epoch: stream.epoch };
    if (!from) return { position, frames: [] };
    if (stream.epoch !== from.epoch || from.offset > stream.last) return { position, gap: 'epoch' };
    if (from.offset === stream.last) return { position, frames: [] };
    stream.prune(Date.now());
    if (from.offset + 1 < stream.oldest) return { position, gap: 'expired' };
    return { position, frames: stream.after(from.offset) };
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private stream(room: string): Stream {
    let stream = this.streams.get(room);
    if (!stream) {
      stream = new Stream(this.options);
      this.streams.set(room, stream);
    }
    return stream;
  }

  private forgetIdle(): void {
    const now = Date.now();
    for (const [room, stream] of this.streams) {
      stream.prune(now);
      if (stream.oldest > stream.last && now - stream.lastAt > Math.max(this.options.ttlMs, POSITION_KEPT_MS))
        this.streams.delete(room);
    }
  }
}
