import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCENARIOS = fileURLToPath(new URL('./fixtures/behaviours/scenarios.cjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number | null;
  result: unknown;
  output: string;
}

/** Runs one scenario in its own process, plainly or under the guard, and returns what it printed. */
function run(scenario: string, guarded: boolean): Promise<Run> {
  const args = [...(guarded ? ['-r', 'switchboard/register'] : []), SCENARIOS, scenario];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = output.split('\n').find((text) => text.startsWith('RESULT '));
      resolve({ code, result: line ? JSON.parse(line.slice('RESULT '.length)) : undefined, output });
    });
  });
}

/** The scenario's facts, the same plainly and under the guard; returns them for the checks of their own. */
async function same(scenario: string): Promise<Record<string, unknown>> {
  const [plain, guarded] = await Promise.all([run(scenario, false), run(scenario, true)]);
  assert.equal(plain.code, 0, plain.output);
  assert.equal(guarded.code, 0, guarded.output);
  assert.deepEqual(guarded.result, plain.result, `under the guard:\n${guarded.output}\nplainly:\n${plain.output}`);
  assert.doesNotMatch(guarded.output, /switchboard:/, 'the guard says nothing where nothing goes wrong');
  return guarded.result as Record<string, unknown>;
}

describe('under the guard, what an app sees is what it sees without it', () => {
  it("wss.close() takes every listener off the server, so an Upgrade request reaches 'request' again", async () => {
    const result = await same('ws-close-cleans-server');
    assert.deepEqual(result, { upgrade: 0, listening: 0, error: 0, answer: 'HTTP/1.1 200 OK' });
  });

  it("a raw 'upgrade' listener that holds the socket for its end is left to answer: nobody answers for it", async () => {
    assert.deepEqual(await same('raw-listener-holds-socket'), { error: 'Opening handshake has timed out' });
  });

  it("a ws server with a path answers another path with ws's own 400", async () => {
    const { answer } = await same('ws-other-path');
    assert.match(String(answer), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(String(answer), /Content-Type: text\/html/);
  });

  it("ws's refusals go out byte for byte, and no 'wsClientError' listener is added", async () => {
    const { answers, wsClientError } = (await same('ws-refusals')) as {
      answers: Record<string, string>;
      wsClientError: number;
    };
    assert.equal(wsClientError, 0);
    assert.match(answers.key ?? '', /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Missing or invalid Sec-WebSocket-Key header$/);
    assert.match(answers.version ?? '', /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Sec-WebSocket-Version/);
    assert.match(answers.method ?? '', /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  });

  it("a connection error the app handles is the app's alone: nothing logged", async () => {
    const { errors } = await same('ws-app-handles-errors');
    assert.deepEqual(errors, ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
  });

  it('io.attach(srv, opts) and io.listen(port, opts) keep the options given there', async () => {
    assert.deepEqual(await same('io-attach-options'), { attach: 24_000, listen: 23_000 });
  });

  it('io.close(); io.listen(port) starts the same Socket.IO server again', async () => {
    assert.deepEqual(await same('io-restart'), { heard: 'again' });
  });

  it('a Socket.IO server made after the first was closed gets the clients (plainly, a crash)', async () => {
    const [plain, guarded] = await Promise.all([run('io-replace-closed', false), run('io-replace-closed', true)]);
    assert.notEqual(plain.code, 0, 'plainly both engines answer the same socket');
    assert.match(plain.output, /handleUpgrade\(\) was called more than once/);
    assert.equal(guarded.code, 0, guarded.output);
    assert.deepEqual(guarded.result, { heard: 'second' });
  });
});
