import { WebSocket } from 'ws';

export type Frame = {
  sb?: string;
  room?: string;
  offset?: number;
  epoch?: string;
  data?: unknown;
  reason?: string;
  [key: string]: unknown;
};

/**
 * A client of a recovering route, written from the README's wire format alone: it keeps the
 * position of every room it hears of and resumes with them (`sb_resume`) when it connects again.
 */
export class RecoveringClient {
  readonly frames: Frame[] = [];
  readonly positions = new Map<string, [number, string]>();
  ws: WebSocket | undefined;

  constructor(private readonly url: string) {}

  async connect(url = this.url): Promise<void> {
    const target = new URL(url);
    if (this.positions.size > 0) {
      target.searchParams.set('sb_resume', Buffer.from(JSON.stringify(Object.fromEntries(this.positions))).toString('base64url'));
    }
    const ws = new WebSocket(target);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      if ((frame.sb === 'pos' || frame.sb === 'msg') && frame.room)
        this.positions.set(frame.room, [frame.offset ?? 0, frame.epoch ?? '']);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.ws = ws;
  }

  /** The data of the room messages heard in `room`, in order of arrival. */
  heard(room: string): unknown[] {
    return this.frames.filter((frame) => frame.sb === 'msg' && frame.room === room).map((frame) => frame.data);
  }

  of(kind: string): Frame[] {
    return this.frames.filter((frame) => frame.sb === kind);
  }
}
