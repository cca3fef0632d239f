export type Command =
  | { command: 'doctor'; app: string; appArgs: string[]; json: boolean; timeoutMs: number }
  | { command: 'demo'; port: number }
  | { command: 'help' }
  | { command: 'version' };

/** Parses the command line; an error names what was wrong, for the usage text to follow. */
export function parseArgs(argv: string[]): Command | { error: string } {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command === '--version' || command === '-v' || command === 'version') return { command: 'version' };
  if (command === 'doctor') return parseDoctor(rest);
  if (command === 'demo') return parseDemo(rest);
  return { error: `unknown command "${command}"` };
}

function parseDoctor(argv: string[]): Command | { error: string } {
  const separator = argv.indexOf('--');
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const appArgs = separator === -1 ? [] : argv.slice(separator + 1);
  let app: string | undefined;
  let json = false;
  let timeoutMs = 10_000;
  for (let index = 0; index < own.length; index++) {
    const arg = own[index] as string;
    if (arg === '--json') json = true;
    else if (arg === '--timeout' || arg.startsWith('--timeout=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : own[++index];
      const parsed = parseDuration(value);
      if (parsed === undefined) return { error: `--timeout needs a duration such as 10s or 500ms, not ${JSON.stringify(value)}` };
      timeoutMs = parsed;
    } else if (arg.startsWith('-')) return { error: `unknown option ${arg} for doctor` };
    else if (app === undefined) app = arg;
    else return { error: `doctor takes one app; put the app's own arguments after "--" (got ${arg})` };
  }
  if (app === undefined) return { error: 'doctor needs the app to start, e.g. switchboard doctor server.js' };
  return { command: 'doctor', app, appArgs, json, timeoutMs };
}

function parseDemo(argv: string[]): Command | { error: string } {
  let port = Number(process.env.PORT ?? 3000);
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--port' || arg.startsWith('--port=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++index];
      port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        return { error: `--port needs a port number, not ${JSON.stringify(value)}` };
    } else return { error: `unknown option ${arg} for demo` };
  }
  return { command: 'demo', port };
}

/** `10s`, `500ms`, `2m`, or a bare number of seconds. */
export function parseDuration(value: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value ?? '');
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(amount * (unit === 'ms' ? 1 : unit === 's' ? 1_000 : 60_000));
}
