import type { IncomingMessage } from 'node:http';

/** The parts of a handshake request that routing looks at, parsed once per handshake. */
export interface RequestTarget {
  /** Path as sent (not decoded), without query string. */
  path: string;
  /** Query string without the `?`, or `''`. */
  rawQuery: string;
  /** Host name, lower case, without port. */
  readonly host: string | undefined;
  /** Offered `Sec-WebSocket-Protocol` values, in the client's order. */
  protocols: string[];
}

/**
 * The host is worked out when first read: most hubs bind no route to a host, and then only an app
 * that reads `ctx.host` pays for it.
 */
class ParsedTarget implements RequestTarget {
  private parsedHost: string | undefined | null = null;

  constructor(
    readonly path: string,
    readonly rawQuery: string,
    private readonly authority: string | undefined,
    readonly protocols: string[],
  ) {}

  get host(): string | undefined {
    if (this.parsedHost === null) this.parsedHost = hostName(this.authority);
    return this.parsedHost;
  }
}

export interface BadTarget {
  status: 400;
  reason: string;
}

/** Shared by every handshake that offers none: the context keeps it as long as the connection. */
const NO_PROTOCOLS: string[] = Object.freeze([]) as unknown as string[];
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;
const BAD_ESCAPE = /%(?![0-9a-f]{2})/i;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Refuses what two components could read differently (dot segments, malformed escapes, control
 * bytes): a proxy that normalises `/chat/../admin` and a router that does not would disagree on
 * which service a socket belongs to.
 */
export function parseRequestTarget(req: IncomingMessage): RequestTarget | BadTarget {
  const url = req.url ?? '';
  let hostFromTarget: string | undefined;
  let rest: string;
  if (url.startsWith('/')) {
    rest = url;
  } else if (ABSOLUTE_FORM.test(url)) {
    const authorityStart = url.indexOf('//') + 2;
    let pathStart = url.slice(authorityStart).search(/[/?#]/);
    pathStart = pathStart === -1 ? url.length : authorityStart + pathStart;
    hostFromTarget = url.slice(authorityStart, pathStart);
    rest = url.slice(pathStart);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  } else {
    return { status: 400, reason: 'request target must be a path or an absolute URL' };
  }

  const fragment = rest.indexOf('#');
  if (fragment !== -1) rest = rest.slice(0, fragment);
  const queryStart = rest.indexOf('?');
  const path = queryStart === -1 ? rest : rest.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? '' : rest.slice(queryStart + 1);

  const refusal = pathRefusal(path);
  if (refusal) return { status: 400, reason: refusal };

  // RFC 9112 §3.2: more than one Host is a 400. Node keeps the first one silently; a proxy in front
  // might route by another, and routes can be bound to hosts.
  if (hostHeaderCount(req.rawHeaders) > 1) return { status: 400, reason: 'more than one Host header' };

  // RFC 9112 §3.2.2: an absolute-form target's authority wins over the Host header.
  const authority = hostFromTarget ?? req.headers.host;
  const offered = req.headers['sec-websocket-protocol'];
  const protocols = offered
    ? offered
        .split(',')
        .map((value) => value.trim())
        .filter(Boolean)
    : NO_PROTOCOLS;
  return new ParsedTarget(path, rawQuery, authority, protocols);
}

/**
 * Why a path is refused, or undefined. One pass over the characters decides for most paths; the
 * escape and dot-segment patterns run only on paths that hold a `%` or a `.`.
 */
function pathRefusal(path: string): string | undefined {
  let suspicious = false;
  for (let index = 0; index < path.length; index++) {
    const code = path.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return 'control characters in path';
    if (code === 0x25 /* % */ || code === 0x2e /* . */) suspicious = true;
  }
  if (!suspicious) return undefined;
  if (BAD_ESCAPE.test(path)) return 'invalid percent-encoding in path';
  if (DOT_SEGMENT.test(path)) return 'dot segments in path';
  return undefined;
}

export function isBadTarget(target: RequestTarget | BadTarget): target is BadTarget {
  return (target as BadTarget).status !== undefined;
}

function hostHeaderCount(rawHeaders: readonly string[] | undefined): number {
  let count = 0;
  if (!rawHeaders) return count;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] as string;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) count++;
  }
  return count;
}

function hostName(authority: string | undefined): string | undefined {
  if (!authority) return undefined;
  const at = authority.lastIndexOf('@');
  const hostPort = at === -1 ? authority : authority.slice(at + 1);
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    return (end === -1 ? hostPort : hostPort.slice(0, end + 1)).toLowerCase();
  }
  const colon = hostPort.indexOf(':');
  return (colon === -1 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
}
