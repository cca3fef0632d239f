import type { HubNode } from './nodes.js';
import type { Random } from './prng.js';

export interface PublishRecord {
  pub: string;
  seq: number;
  room: string;
  node: string;
  at: number;
  /** The node answered the publish request (its hub.publish ran); false: unknown (timed out, refused). */
  confirmed: boolean;
}

/**
 * One publisher per node, straight to its HTTP control (not through the proxy): a steady stream
 * of `{ pub, seq, room }` to random rooms, one request at a time, so that a publisher's messages
 * leave in seq order. A request that fails or times out may still be carried out later (a stopped
 * node wakes up): the publisher then takes a new name (`p1.2`), so that a late message can never
 * look like a reorder of the next ones.
 */
export class Publisher {
  readonly published: PublishRecord[] = [];
  private generation = 1;
  private seq = 0;
  private running = false;
  private paused = false;
  private loop: Promise<void> | undefined;
  private inFlight: Promise<unknown> | undefined;

  constructor(
    private readonly node: HubNode,
    private readonly rooms: string[],
    private readonly random: Random,
    /** Mean gap between two publishes of this publisher. */
    private readonly everyMs: number,
  ) {}

  get name(): string {
    return `p${this.node.index}.${this.generation}`;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Holds publishing (a snapshot of the streams is being taken) once the request on its way is answered; `resume` goes on. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.inFlight;
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await new Promise((resolve) => setTimeout(resolve, this.everyMs * (0.5 + this.random.next())));
      if (!this.running) break;
      const base = this.node.base;
      if (this.paused || base === undefined || this.node.status !== 'up') continue;
      const room = this.random.pick(this.rooms);
      const count = this.random.chance(0.2) ? 2 : 1;
      const pub = this.name;
      const first = this.seq + 1;
      this.seq += count;
      const records = Array.from({ length: count }, (_, index) => ({
        pub,
        seq: first + index,
        room,
        node: this.node.name,
        at: Date.now(),
        confirmed: false,
      }));
      this.published.push(...records);
      try {
        const query = new URLSearchParams({ action: 'publish', room, pub, seq: String(first), count: String(count) });
        const request = fetch(`${base}/?${query}`, { signal: AbortSignal.timeout(1_500) });
        this.inFlight = request.catch(() => {});
        const response = await request;
        await response.text();
        if (!response.ok) throw new Error(`status ${response.status}`);
        for (const record of records) record.confirmed = true;
      } catch {
        this.generation += 1;
        this.seq = 0;
      }
    }
  }
}
