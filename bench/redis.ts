/** The bench's own Redis connections: to read INFO, MONITOR, or to find that Redis is not there. */
import type { Redis } from 'ioredis';

/** A connected client of the Redis on 127.0.0.1:`port`, or undefined when nothing answers there. */
export async function connectRedis(port = 6379): Promise<Redis | undefined> {
  const { Redis } = await import('ioredis');
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return client;
  } catch {
    client.disconnect();
    return undefined;
  }
}
