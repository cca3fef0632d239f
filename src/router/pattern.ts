import { SwitchboardError } from '../errors.js';

/** How a pattern matches: one path, a fixed shape with parameters, or everything under a prefix. */
export type PatternKind = 'exact' | 'param' | 'prefix';

export interface CompiledPattern {
  /** The pattern as the user wrote it. */
  readonly source: string;
  readonly kind: PatternKind;
  /**
   * Canonical form used to detect two registrations of the same pattern:
   * parameter names are erased, so `/rooms/:id` and `/rooms/:roomId` collide.
   */
  readonly key: string;
  /** Path segments (without the leading `/`); `:name` marks a parameter. Prefix patterns omit the `*`. */
  readonly segments: readonly string[];
  /** Parameter names in order of appearance. */
  readonly params: readonly string[];
}

const PARAM_NAME = /^[A-Za-z_$][\w$]*$/;

/**
 * Parses `'/exact'`, `'/rooms/:id'` or `'/prefix/*'`. Anything else is a start-up error that says
 * what the accepted forms are, because a pattern that silently never matches is the bug this
 * library exists to remove.
 */
export function parsePattern(pattern: string): CompiledPattern {
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
    throw invalid(pattern, 'a pattern must be a string that starts with "/"');
  }
  if (/[?#\s]/.test(pattern)) {
    throw invalid(pattern, 'query strings, fragments and whitespace never take part in matching');
  }
  const segments = pattern.slice(1).split('/');
  const last = segments[segments.length - 1];
  const isPrefix = last === '*';
  if (isPrefix) segments.pop();

  const params: string[] = [];
  segments.forEach((segment, index) => {
    if (segment.includes('*')) {
      throw invalid(pattern, '"*" is only allowed as the last segment, as in "/prefix/*"');
    }
    if (segment === '' && index < segments.length - 1) {
      throw invalid(pattern, 'empty segments ("//") are not allowed');
    }
    if (segment.startsWith(':')) {
      const name = segment.slice(1);
      if (!PARAM_NAME.test(name)) {
        throw invalid(pattern, `parameter "${segment}" needs a name made of letters, digits, "_" or "$"`);
      }
      if (params.includes(name)) throw invalid(pattern, `parameter ":${name}" appears twice`);
      params.push(name);
    } else if (segment.includes(':')) {
      throw invalid(pattern, `a parameter must take a whole segment ("${segment}")`);
    }
  });
  if (isPrefix && segments.length > 0 && segments[segments.length - 1] === '') {
    throw invalid(pattern, 'write a prefix as "/prefix/*", without a double slash');
  }
  if (isPrefix && params.length > 0) {
    throw invalid(pattern, 'a prefix pattern cannot hold parameters; use "/rooms/:id" or "/rooms/*"');
  }

  const kind: PatternKind = isPrefix ? 'prefix' : params.length > 0 ? 'param' : 'exact';
  const canonical = segments.map((segment) => (segment.startsWith(':') ? ':' : segment));
  const key = kind === 'prefix' ? `/${canonical.join('/')}${segments.length ? '/' : ''}*` : `/${canonical.join('/')}`;
  return { source: pattern, kind, key, segments, params };
}

function invalid(pattern: unknown, why: string): SwitchboardError {
  return new SwitchboardError(
    'ERR_INVALID_PATTERN',
    `Invalid route pattern ${JSON.stringify(pattern)}: ${why}. Accepted forms: "/exact", "/rooms/:id", "/prefix/*".`,
  );
}
