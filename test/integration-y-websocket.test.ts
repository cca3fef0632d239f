import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { checkChat, checkHubNotFound, startExample } from './example-helpers.js';
import { eventually } from './helpers.js';

/** A Yjs document kept in sync with `room` by a real y-websocket client. */
function joinRoom(url: string, room: string): { doc: Y.Doc; provider: WebsocketProvider; text: Y.Text } {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  return { doc, provider, text: doc.getText('shared') };
}

describe('examples/y-websocket: Yjs rooms from the path beside a ws service on one port', () => {
  it('syncs a document between the clients of one room only, and keeps /chat and the hub 404', { timeout: 30_000 }, async (t) => {
    const app = await startExample('y-websocket');
    const clients: ReturnType<typeof joinRoom>[] = [];
    t.after(async () => {
      // The awareness of each document runs a timer until its document is destroyed.
      for (const { provider, doc } of clients) {
        provider.destroy();
        doc.destroy();
      }
      await app.stop();
    });
    const join = (room: string) => {
      const client = joinRoom(app.ws, room);
      clients.push(client);
      return client;
    };

    const ann = join('design-review');
    const bob = join('design-review');
    const eve = join('another-room');
    await eventually(() => [ann, bob, eve].every((client) => client.provider.synced), 10_000, 'the providers to sync');

    ann.text.insert(0, 'hello from ann');
    await eventually(() => bob.text.toString() === 'hello from ann', 5_000, "ann's edit to reach bob");
    bob.text.insert(bob.text.length, ', and bob');
    await eventually(() => ann.text.toString() === 'hello from ann, and bob', 5_000, "bob's edit to reach ann");
    // A late joiner gets the whole document from the server.
    const carol = join('design-review');
    await eventually(() => carol.text.toString() === 'hello from ann, and bob', 5_000, 'the document to reach carol');
    assert.equal(eve.text.toString(), '', 'another room is another document');

    // The exact path /chat wins over the '/:room' pattern; a deeper path matches neither.
    await checkChat(`${app.ws}/chat`);
    await checkHubNotFound(`${app.ws}/no/such/socket`);
  });
});
