import net from 'node:net';

export type CutKind = 'rst' | 'fin';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Set once the proxy cut it: the closes that follow are the cut's, not to be passed on again. */
  cut: boolean;
}

const noop = () => {};

/**
 * Resets `socket`, or destroys it when it has sent its FIN already: Node 20 cannot reset a socket
 * whose shutdown is under way (`uv_tcp_close_reset` answers EINVAL), and the handle it leaves
 * behind keeps the process spinning at exit.
 */
function reset(socket: net.Socket): void {
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * A TCP proxy in front of one hub node, on a loopback port of its own that outlives the node:
 * clients dial it, it dials whatever port the node has now (`target`, undefined while the node is
 * down). It passes every close on as it came (a FIN as a FIN, a reset as a reset), and on command
 * cuts its current connections with a reset (`resetAndDestroy`) or a FIN (`end`), or refuses new
 * ones for a while (accepted, then reset at once: what a client sees of a balancer with no
 * backend). Node's `net` only.
 */
export class FaultProxy {
  port = 0;
  /** The node's port; undefined while it is down (new connections are then reset). */
  target: number | undefined;
  readonly stats = { accepted: 0, refused: 0, cut: 0, upstreamFailed: 0 };
  private readonly pairs = new Set<Pair>();
  private refusingUntil = 0;
  private readonly server: net.Server;

  constructor(readonly name: string) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Refuses new connections until `ms` from now. */
  refuse(ms: number): void {
    this.refusingUntil = Math.max(this.refusingUntil, Date.now() + ms);
  }

  /** Stops refusing now. */
  admit(): void {
    this.refusingUntil = 0;
  }

  get refusing(): boolean {
    return Date.now() < this.refusingUntil;
  }

  /** Cuts the current connections `choose` picks (all by default); returns how many. */
  cut(kind: CutKind, choose: (index: number) => boolean = () => true): number {
    let count = 0;
    [...this.pairs].forEach((pair, index) => {
      if (pair.cut || !choose(index)) return;
      count++;
      this.cutPair(pair, kind);
    });
    this.stats.cut += count;
    return count;
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.cutPair(pair, 'rst');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', noop);
    const target = this.target;
    if (this.refusing || target === undefined) {
      this.stats.refused++;
      reset(client);
      return;
    }
    this.stats.accepted++;
    const upstream = net.connect(target, '127.0.0.1');
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const pair: Pair = { client, upstream, cut: false };
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // A reset on one side is passed on as a reset; a clean end travels through the pipes as a FIN.
    client.on('error', () => {
      if (!pair.cut) reset(upstream);
    });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
    });
    upstream.on('error', () => {
      // Refused: the node is down or restarting and the proxy has not heard yet.
      if (!connected) this.stats.upstreamFailed++;
      if (!pair.cut) reset(client);
    });
    const closed = () => {
      if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
    };
    const settle = (other: net.Socket) => () => {
      closed();
      if (!other.destroyed) {
        other.end();
        setTimeout(() => other.destroy(), 2_000).unref();
      }
    };
    client.on('close', settle(upstream));
    upstream.on('close', settle(client));
  }

  private cutPair(pair: Pair, kind: CutKind): void {
    pair.cut = true;
    const { client, upstream } = pair;
    if (kind === 'rst') {
      reset(client);
      reset(upstream);
      return;
    }
    // A FIN each way and nothing more through: what is still in flight is dropped, as a cut link drops it.
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.on('data', noop);
    upstream.on('data', noop);
    client.end();
    upstream.end();
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, 2_000).unref();
  }
}
