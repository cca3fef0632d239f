import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkChat, checkHubNotFound, checkSocketIO, startExample } from './example-helpers.js';

describe('examples/express: Express, ws and Socket.IO on one port', () => {
  it('serves every service on the one port and answers an unknown path with the hub 404', { timeout: 30_000 }, async (t) => {
    const app = await startExample('express');
    t.after(app.stop);

    const hello = await fetch(`${app.http}/api/hello`);
    assert.deepEqual(await hello.json(), { hello: 'from express' });
    const missing = await fetch(`${app.http}/no/such/page`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /Cannot GET \/no\/such\/page/, 'Express keeps its own 404 for plain HTTP');

    await checkChat(`${app.ws}/chat`);
    await checkSocketIO(app.http, 'websocket');
    await checkSocketIO(app.http, 'polling');
    await checkHubNotFound(`${app.ws}/no/such/socket`);
  });
});
