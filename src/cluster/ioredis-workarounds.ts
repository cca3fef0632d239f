import type { Cluster, Redis } from 'ioredis';

/**
 * Connects `client` (when it has not started yet) and resolves once it is ready, or rejects after
 * `timeoutMs`. Readiness is read off the client's 'ready' event, not off `connect()` alone: when a
 * Cluster's first ready check meets a shard in failover, ioredis reconnects with a new attempt and
 * the promise of the first is never settled, though the client becomes ready moments later. A first
 * attempt that fails outright still rejects at once, as does the client ending.
 */
export function untilReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => settle();
    const onEnd = () => settle(new Error('the connection was closed for good'));
    const timer = setTimeout(() => settle(new Error(`not ready within ${timeoutMs / 1000} s`)), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
    if (client.status === 'wait') client.connect().then(onReady, (error: Error) => settle(error));
  });
}

/**
 * Makes the SSUBSCRIBEs of `client` hold through a failover. While a shard has no subscriber yet
 * (at start, or as a replica takes over), ioredis rejects an SSUBSCRIBE of its slots at once; the
 * official sharded Socket.IO adapter calls `ssubscribe` without handling that, which is both an
 * unhandled rejection (the end of a process run with Node's defaults) and a channel never
 * subscribed (that node's sockets would silently miss the broadcasts of the others). Each rejected
 * SSUBSCRIBE is asked again, every `retryMs`, until it holds or the client is closed; a rejected
 * SUNSUBSCRIBE is let go.
 */
export function retryShardSubscriptions(client: Cluster, retryMs = 250): void {
  const ssubscribe = client.ssubscribe.bind(client) as (...channels: string[]) => Promise<unknown>;
  const subscribe = (channels: string[]): Promise<unknown> =>
    ssubscribe(...channels).catch(async () => {
      if (client.status === 'end') return undefined;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      return subscribe(channels);
    });
  const sunsubscribe = client.sunsubscribe.bind(client) as (...channels: string[]) => Promise<unknown>;
  const patched = client as unknown as Record<'ssubscribe' | 'sunsubscribe', (...channels: string[]) => Promise<unknown>>;
  patched.ssubscribe = (...channels) => subscribe(channels);
  // Rejected the same way (as the adapter closes during a failover): a slot without a subscriber
  // holds no subscription to end.
  patched.sunsubscribe = (...channels) => sunsubscribe(...channels).catch(() => undefined);
}
