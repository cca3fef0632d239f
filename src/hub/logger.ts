/** Anything with these four methods works; pino's signature `(fields, message)` is the one used. */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const quiet = () => {};

/** Warnings and errors to the console, nothing else: a hub should not be chatty by default. */
export const consoleLogger: Logger = {
  debug: quiet,
  info: quiet,
  warn: (fields, message) => console.warn(`switchboard: ${message ?? ''}`, fields),
  error: (fields, message) => console.error(`switchboard: ${message ?? ''}`, fields),
};

export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((level) => typeof candidate[level] === 'function');
}
