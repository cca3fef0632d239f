import { SwitchboardError } from '../errors.js';
import { type CompiledPattern, parsePattern } from './pattern.js';

/** What a route declares about the requests it takes, besides its path. */
export interface RouteKey {
  pattern: string;
  /** `example.com` or `*.example.com`; a route bound to a host beats one that is not. */
  host?: string;
  /** A `Sec-WebSocket-Protocol` value the request must offer. */
  protocol?: string;
}

/** The facts of one request that take part in matching. */
export interface MatchInput {
  /** Path without query string. */
  path: string;
  /** Host name, lower case, without port. */
  host?: string;
  /** Sub-protocols the client offered, in its order. */
  protocols?: readonly string[];
}

export interface Match<T> {
  value: T;
  pattern: CompiledPattern;
  params: Record<string, string>;
}

interface Variant<T> {
  protocol: string | undefined;
  pattern: CompiledPattern;
  value: T;
}

/** Registrations sharing a pattern shape; they differ by protocol only. */
type Variants<T> = Variant<T>[];

interface TrieNode<T> {
  literal: Map<string, TrieNode<T>>;
  param: TrieNode<T> | undefined;
  terminal: Variants<T> | undefined;
}

/**
 * A path's segments, split on first use: an exact route answers from the whole path, and most
 * handshakes go to one, so most never pay for the split.
 */
class Segments {
  private segments: string[] | undefined;

  constructor(private readonly path: string) {}

  get(): readonly string[] {
    this.segments ??= this.path.slice(1).split('/');
    return this.segments;
  }
}

/** All routes bound to one host (or to no host). */
class HostRoutes<T> {
  readonly exact = new Map<string, Variants<T>>();
  readonly prefix = new Map<string, Variants<T>>();
  readonly params: TrieNode<T> = newNode();
  size = 0;
  /** Parameter and prefix routes: without any, a path no exact route takes is taken by none. */
  patterned = 0;

  variantsFor(pattern: CompiledPattern, create: boolean): Variants<T> | undefined {
    if (pattern.kind === 'param') {
      let node = this.params;
      for (const segment of pattern.segments) {
        const isParam = segment.startsWith(':');
        let next = isParam ? node.param : node.literal.get(segment);
        if (!next) {
          if (!create) return undefined;
          next = newNode();
          if (isParam) node.param = next;
          else node.literal.set(segment, next);
        }
        node = next;
      }
      if (!node.terminal && create) node.terminal = [];
      return node.terminal;
    }
    const map = pattern.kind === 'exact' ? this.exact : this.prefix;
    let variants = map.get(pattern.key);
    if (!variants && create) {
      variants = [];
      map.set(pattern.key, variants);
    }
    return variants;
  }

  match(input: MatchInput, segmentsOf: Segments): Match<T> | undefined {
    const exact = this.exact.get(input.path);
    const exactHit = exact && pick(exact, input.protocols);
    if (exactHit) return { value: exactHit.value, pattern: exactHit.pattern, params: {} };
    if (this.patterned === 0) return undefined;

    const segments = segmentsOf.get();
    const values: string[] = [];
    const paramHit = matchTrie(this.params, segments, 0, values, input.protocols);
    if (paramHit) {
      const params: Record<string, string> = {};
      paramHit.pattern.params.forEach((name, index) => {
        params[name] = decodeParam(values[index] as string);
      });
      return { value: paramHit.value, pattern: paramHit.pattern, params };
    }

    // Longest prefix first: try every segment boundary of the path, from the whole path down to "/".
    if (this.prefix.size > 0) {
      for (let count = segments.length; count >= 0; count--) {
        const key = count === 0 ? '/*' : `/${segments.slice(0, count).join('/')}/*`;
        const variants = this.prefix.get(key);
        const hit = variants && pick(variants, input.protocols);
        if (hit) {
          const rest = segments.slice(count).join('/');
          return { value: hit.value, pattern: hit.pattern, params: { '*': decodeParam(rest) } };
        }
      }
    }
    return undefined;
  }
}

/**
 * Routes keyed by host, pattern and protocol, matched by specificity rather than by order of
 * registration: host-bound before host-free, then exact path, parameter pattern (literal segments
 * beat parameters, left to right), longest prefix; at equal path, a route that names the offered
 * protocol beats one that names none.
 *
 * Exact paths sit in a Map, so the cost of a match does not grow with the number of exact routes.
 */
export class RouteTable<T> {
  private readonly anyHost = new HostRoutes<T>();
  private readonly byHost = new Map<string, HostRoutes<T>>();
  /** `*.example.com` buckets, longest suffix first. */
  private wildcards: { suffix: string; routes: HostRoutes<T> }[] = [];

  /** Adds a route; returns the value already registered under the same key, without adding, if any. */
  add(key: RouteKey, value: T): { added: true } | { added: false; existing: T } {
    const pattern = parsePattern(key.pattern);
    const host = normalizeHost(key.host);
    const protocol = key.protocol === undefined ? undefined : validateProtocol(key.protocol);
    const routes = this.routesFor(host, true) as HostRoutes<T>;
    const variants = routes.variantsFor(pattern, true) as Variants<T>;
    const existing = variants.find((variant) => variant.protocol === protocol);
    if (existing) return { added: false, existing: existing.value };
    // Protocol-specific variants come first so that `pick` tries them before the catch-all one.
    const variant: Variant<T> = { protocol, pattern, value };
    if (protocol === undefined) variants.push(variant);
    else variants.unshift(variant);
    routes.size++;
    if (pattern.kind !== 'exact') routes.patterned++;
    return { added: true };
  }

  /** Removes the route registered under exactly this key; returns whether there was one. */
  remove(key: RouteKey): boolean {
    const pattern = parsePattern(key.pattern);
    const routes = this.routesFor(normalizeHost(key.host), false);
    const variants = routes?.variantsFor(pattern, false);
    const index = variants?.findIndex((variant) => variant.protocol === key.protocol) ?? -1;
    if (!routes || !variants || index < 0) return false;
    variants.splice(index, 1);
    routes.size--;
    if (pattern.kind !== 'exact') routes.patterned--;
    return true;
  }

  match(input: MatchInput): Match<T> | undefined {
    const segments = new Segments(input.path);
    // The host is asked for only where some route is bound to one: reading it may cost a parse.
    const host = this.byHost.size > 0 || this.wildcards.length > 0 ? input.host : undefined;
    if (host !== undefined) {
      const exactHost = this.byHost.get(host)?.match(input, segments);
      if (exactHost) return exactHost;
      for (const wildcard of this.wildcards) {
        if (host.endsWith(wildcard.suffix) && host.length > wildcard.suffix.length) {
          const hit = wildcard.routes.match(input, segments);
          if (hit) return hit;
        }
      }
    }
    return this.anyHost.match(input, segments);
  }

  private routesFor(host: string | undefined, create: boolean): HostRoutes<T> | undefined {
    if (host === undefined) return this.anyHost;
    if (host.startsWith('*.')) {
      const suffix = host.slice(1);
      let entry = this.wildcards.find((wildcard) => wildcard.suffix === suffix);
      if (!entry && create) {
        entry = { suffix, routes: new HostRoutes<T>() };
        this.wildcards.push(entry);
        this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
      }
      return entry?.routes;
    }
    let routes = this.byHost.get(host);
    if (!routes && create) {
      routes = new HostRoutes<T>();
      this.byHost.set(host, routes);
    }
    return routes;
  }
}

function newNode<T>(): TrieNode<T> {
  return { literal: new Map(), param: undefined, terminal: undefined };
}

function pick<T>(variants: Variants<T>, offered: readonly string[] | undefined): Variant<T> | undefined {
  for (const variant of variants) {
    if (variant.protocol === undefined || offered?.includes(variant.protocol)) return variant;
  }
  return undefined;
}

function matchTrie<T>(
  node: TrieNode<T>,
  segments: readonly string[],
  index: number,
  values: string[],
  offered: readonly string[] | undefined,
): Variant<T> | undefined {
  if (index === segments.length) return node.terminal && pick(node.terminal, offered);
  const segment = segments[index] as string;
  const literal = node.literal.get(segment);
  if (literal) {
    const hit = matchTrie(literal, segments, index + 1, values, offered);
    if (hit) return hit;
  }
  // A parameter never matches an empty segment: `/rooms/:id` does not take `/rooms/`.
  if (node.param && segment !== '') {
    values.push(segment);
    const hit = matchTrie(node.param, segments, index + 1, values, offered);
    if (hit) return hit;
    values.pop();
  }
  return undefined;
}

function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Malformed escapes are refused before routing (400); keep the raw text if one slips through.
    return raw;
  }
}

function normalizeHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  if (typeof host !== 'string' || host.trim() === '' || /[/\s]/.test(host)) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `Invalid host ${JSON.stringify(host)}: give a host name such as "example.com" or "*.example.com", without scheme or path.`,
    );
  }
  return host.toLowerCase();
}

function validateProtocol(protocol: string): string {
  // RFC 6455 sub-protocol names are HTTP tokens.
  if (typeof protocol !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(protocol)) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `Invalid protocol ${JSON.stringify(protocol)}: a Sec-WebSocket-Protocol value is one HTTP token, such as "graphql-transport-ws".`,
    );
  }
  return protocol;
}
