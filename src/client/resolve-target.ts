import { ClientError } from './errors.js';
import type { ConnectOptions, Resolvable, UrlInput } from './options.js';

/** What one connection attempt dials. */
export interface Target {
  url: string;
  protocols?: string | string[];
}

async function value<T>(input: Resolvable<T>): Promise<T> {
  return typeof input === 'function' ? await (input as () => T | Promise<T>)() : input;
}

/**
 * Runs before every attempt, so a URL, query or token that expires is asked for again on each
 * reconnection instead of replaying the stale one into a loop of 401s.
 */
export async function resolveTarget(url: Resolvable<UrlInput>, options: ConnectOptions): Promise<Target> {
  const raw = String(await value(url));
  const base = (globalThis as { location?: { href: string } }).location?.href;
  let parsed: URL;
  try {
    parsed = new URL(raw, base);
  } catch {
    throw new ClientError(
      'ERR_CLIENT_OPTIONS',
      `switchboard/client: cannot make a WebSocket URL of ${JSON.stringify(raw)}${base ? '' : ' (a relative URL needs a page to be relative to; give ws://host/path)'}`,
    );
  }
  toWebSocketScheme(parsed);
  if (options.query !== undefined) {
    const query = await value(options.query);
    for (const [name, each] of Object.entries(query ?? {})) {
      if (each !== undefined && each !== null) parsed.searchParams.set(name, String(each));
    }
  }
  if (options.auth !== undefined) {
    const token = await value(options.auth);
    if (token) parsed.searchParams.set(options.authParam ?? 'token', token);
  }
  const protocols = options.protocols === undefined ? undefined : await value(options.protocols);
  return protocols === undefined ? { url: parsed.href } : { url: parsed.href, protocols };
}

/** The registry key of a URL given as a value: the normalized URL, query included. */
export function keyOf(url: UrlInput): string {
  const raw = String(url);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    const parsed = new URL(raw, base);
    toWebSocketScheme(parsed);
    return parsed.href;
  } catch {
    return raw;
  }
}

/** `connect('/live')` on a page served over https dials wss://, as a page's own links would. */
function toWebSocketScheme(url: URL): void {
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
}
