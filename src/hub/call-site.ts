import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FRAME = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?$/;

/** Libraries whose frames are never the "user's code" when a route is registered through them. */
const LIBRARY_FRAME = /[/\\]node_modules[/\\](?:ws|socket\.io|engine\.io|@socket\.io|@nestjs|tsx)[/\\]/;

function locationOf(line: string): { file: string; line: string; column: string } | undefined {
  const match = FRAME.exec(line.trim());
  if (!match) return undefined;
  let file = match[1] as string;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  return { file, line: match[2] as string, column: match[3] as string };
}

/**
 * The folder holding Switchboard's own code (`src` when run from source, `dist` when installed),
 * found from this module's own stack frame so that it works in the ESM and CommonJS builds alike.
 */
const OWN_ROOT = (() => {
  const here = locationOf(new Error().stack?.split('\n')[1] ?? '');
  if (!here) return undefined;
  let dir = path.dirname(here.file);
  while (!['src', 'dist'].includes(path.basename(dir)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir + path.sep;
})();

/**
 * Where the user's code called into Switchboard, as `file:line:column` (relative to the working
 * directory when below it). Used to name both parties of a conflict.
 */
export function callSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const location = locationOf(line);
    if (!location) continue;
    const { file } = location;
    if (file.startsWith('node:') || !path.isAbsolute(file)) continue;
    // The demo lives in the package but is app code: its routes are owned by its service files.
    if (OWN_ROOT && file.startsWith(OWN_ROOT) && !file.slice(OWN_ROOT.length).startsWith(`demo${path.sep}`)) continue;
    if (LIBRARY_FRAME.test(file)) continue;
    const relative = path.relative(process.cwd(), file);
    const shown = relative && !relative.startsWith('..') ? relative : file;
    return `${shown}:${location.line}:${location.column}`;
  }
  return undefined;
}
