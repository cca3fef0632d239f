import type { IncomingMessage } from 'node:http';
import { SwitchboardError } from '../errors.js';

const invalidOption = (message: string) => new SwitchboardError('ERR_INVALID_OPTION', message);

/** Hub-wide limits, checked before routing; each refusal has its own status and a `Retry-After`. */
export interface LimitOptions {
  /** Open connections, all routes together, beyond which handshakes get 503. */
  maxConnections?: number;
  /** Open connections from one client address beyond which its handshakes get 429. */
  maxConnectionsPerIp?: number;
  /** New connections per second, all clients together, beyond which handshakes get 503. */
  handshakesPerSecond?: number;
  /** New connections per second from one client address beyond which its handshakes get 429. */
  handshakesPerIpPerSecond?: number;
  /**
   * Take the client address from the first `X-Forwarded-For` entry. Only behind a proxy that sets
   * it: otherwise any client could pick the address it is limited as.
   */
  trustProxy?: boolean;
}

const NAMES = ['maxConnections', 'maxConnectionsPerIp', 'handshakesPerSecond', 'handshakesPerIpPerSecond', 'trustProxy'];

export function checkLimits(limits: LimitOptions | undefined): LimitOptions {
  if (limits === undefined) return {};
  if (typeof limits !== 'object' || limits === null)
    throw invalidOption('switchboard(server, { limits }): limits must be an object.');
  for (const [name, value] of Object.entries(limits)) {
    if (!NAMES.includes(name))
      throw invalidOption(`switchboard(server, { limits }): unknown limit "${name}". Known limits: ${NAMES.join(', ')}.`);
    if (name === 'trustProxy') continue;
    if (!(Number.isInteger(value) && (value as number) > 0)) {
      throw invalidOption(`switchboard(server, { limits }): ${name} must be a whole number > 0, not ${String(value)}.`);
    }
  }
  return limits;
}

export interface LimitRefusal {
  status: 429 | 503;
  reason: string;
  headers: Record<string, string | number>;
}

/**
 * Counts open connections and new handshakes, globally and per client address, in one-second
 * windows. Memory stays bounded: an address is forgotten once it has no open connection and its
 * window has passed.
 */
export class Limiter {
  private open = 0;
  private readonly openByIp = new Map<string, number>();
  private window = 0;
  private inWindow = 0;
  private readonly inWindowByIp = new Map<string, number>();

  /** Any limit is set: only then does a handshake need counting (decided once, not per handshake). */
  readonly active: boolean;
  /** A limit is kept per client address: only then must every connection's address be read. */
  readonly perAddress: boolean;

  constructor(private readonly limits: LimitOptions) {
    this.active = Object.keys(limits).some((name) => name !== 'trustProxy');
    this.perAddress = limits.maxConnectionsPerIp !== undefined || limits.handshakesPerIpPerSecond !== undefined;
  }

  /**
   * The client address when it is needed at once: for a limit, or named by a trusted proxy. Else
   * undefined, and `ctx.ip` reads the socket's address only if the app asks for it (reading it is
   * a system call a plain handshake need not pay).
   */
  addressIfNeeded(req: IncomingMessage): string | undefined {
    return this.active || this.limits.trustProxy ? this.addressOf(req) : undefined;
  }

  addressOf(req: IncomingMessage): string {
    if (this.limits.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  /** Counts a new handshake, or says why it is refused. */
  admit(ip: string, now = Date.now()): LimitRefusal | undefined {
    const { maxConnections, maxConnectionsPerIp, handshakesPerSecond, handshakesPerIpPerSecond } = this.limits;
    if (maxConnections !== undefined && this.open >= maxConnections) {
      return { status: 503, reason: 'server is at its connection limit', headers: { 'Retry-After': 5 } };
    }
    if (maxConnectionsPerIp !== undefined && (this.openByIp.get(ip) ?? 0) >= maxConnectionsPerIp) {
      return { status: 429, reason: 'too many connections from this address', headers: { 'Retry-After': 5 } };
    }
    const second = Math.floor(now / 1000);
    if (second !== this.window) {
      this.window = second;
      this.inWindow = 0;
      this.inWindowByIp.clear();
    }
    if (handshakesPerSecond !== undefined && this.inWindow >= handshakesPerSecond) {
      return { status: 503, reason: 'too many new connections right now', headers: { 'Retry-After': 1 } };
    }
    const fromIp = this.inWindowByIp.get(ip) ?? 0;
    if (handshakesPerIpPerSecond !== undefined && fromIp >= handshakesPerIpPerSecond) {
      return { status: 429, reason: 'too many new connections from this address', headers: { 'Retry-After': 1 } };
    }
    this.inWindow++;
    if (handshakesPerIpPerSecond !== undefined) this.inWindowByIp.set(ip, fromIp + 1);
    return undefined;
  }

  opened(ip: string): void {
    this.open++;
    if (this.limits.maxConnectionsPerIp !== undefined) this.openByIp.set(ip, (this.openByIp.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    this.open--;
    if (this.limits.maxConnectionsPerIp === undefined) return;
    const count = this.openByIp.get(ip);
    if (count === undefined) return;
    if (count <= 1) this.openByIp.delete(ip);
    else this.openByIp.set(ip, count - 1);
  }
}
