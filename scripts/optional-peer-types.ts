/**
 * Run after tsup: lets the published declarations compile where socket.io is not installed.
 *
 * socket.io is an optional peer, yet the declarations of entries that never need it (the root
 * among them: `hub.io()` and `hub.socketio(io)` are on every hub) name its types. A strict app
 * (`skipLibCheck: false`) without socket.io would fail on `import 'switchboard'` with TS2307. Each
 * such import gets a `@ts-ignore`: with socket.io installed nothing changes, and without it those
 * types are `any`, the one way a declaration file can say "this module may be missing". It is done
 * here because the declaration bundler rewrites the imports of every chunk and drops comments on
 * them, so it cannot be written in src/. Side-effect imports of socket.io, which declare nothing,
 * are removed.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const DIST = path.resolve(import.meta.dirname, '..', 'dist');
const OPTIONAL = 'socket.io';
const MARK = `// @ts-ignore ${OPTIONAL} is an optional peer: where it is not installed, its types here are any`;

const quoted = `'${OPTIONAL}'`;
let marked = 0;
for (const file of readdirSync(DIST, { recursive: true, encoding: 'utf8' })) {
  if (!/\.d\.c?ts$/.test(file)) continue;
  const where = path.join(DIST, file);
  const lines = readFileSync(where, 'utf8').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    if (line === `import ${quoted};`) continue;
    if (line.startsWith('import ') && line.endsWith(` from ${quoted};`)) {
      if (out.at(-1) !== MARK) out.push(MARK);
      marked++;
    } else if (/(?:from |import\()['"]socket\.io['"]/.test(line)) {
      // A form this script does not know (an inline import() type, an import over several lines)
      // would fail users without the package: stop the build rather than publish it.
      throw new Error(`${file}: unexpected reference to ${OPTIONAL}: ${line}`);
    }
    out.push(line);
  }
  writeFileSync(where, out.join('\n'));
}
console.log(`optional-peer-types: ${marked} import(s) of ${OPTIONAL} marked in dist/`);
