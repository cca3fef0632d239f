import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkChat, checkHubNotFound, graphQLResults, startExample } from './example-helpers.js';
import { attempt } from './helpers.js';

describe('examples/graphql-ws: GraphQL subscriptions beside a ws service on one port', () => {
  it('serves queries and subscriptions, the ws service, and the hub 404', { timeout: 30_000 }, async (t) => {
    const app = await startExample('graphql-ws');
    t.after(app.stop);

    assert.deepEqual(await graphQLResults(`${app.ws}/graphql`, '{ hello }'), [{ data: { hello: 'hello from graphql-ws' } }]);
    assert.deepEqual(await graphQLResults(`${app.ws}/graphql`, 'subscription { countdown(from: 3) }'), [
      { data: { countdown: 3 } },
      { data: { countdown: 2 } },
      { data: { countdown: 1 } },
      { data: { countdown: 0 } },
    ]);

    await checkChat(`${app.ws}/chat`);
    // The GraphQL route is bound to its sub-protocol: the same path with another one is not its.
    const otherProtocol = await attempt(`${app.ws}/graphql`, { protocols: 'graphql-ws' });
    assert.equal(otherProtocol.status, 404);
    await checkHubNotFound(`${app.ws}/no/such/socket`);
  });
});
