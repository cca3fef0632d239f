import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement, StrictMode } from 'react';
import type { ConnectionState } from '../src/client/index.js';
import { useConnection, useConnectionState, useEvent, useMessages } from '../src/react/index.js';
import { mount, settle } from './fixtures/client/react-root.js';
import { startServer } from './fixtures/client/servers.js';
import { eventually } from './helpers.js';

interface WidgetProps {
  id: number;
  url: string;
  heard: Array<{ component: number; value: unknown }>;
  states: ConnectionState[];
}

function Widget({ id, url, heard, states }: WidgetProps) {
  const conn = useConnection(url);
  useEvent<number>(conn, 'count', (value) => heard.push({ component: id, value }));
  const state = useConnectionState(conn);
  if (id === 0) states.push(state);
  return null;
}

function Listener({ url, messages }: { url: string; messages: string[] }) {
  useMessages(useConnection(url), (data) => messages.push(String(data)));
  return null;
}

describe('switchboard/react under StrictMode', () => {
  it('mounts several components on one socket, and each mount/unmount cycle opens exactly one', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const url = `${srv.url}/echo`;
    const heard: WidgetProps['heard'] = [];
    const states: ConnectionState[] = [];
    let maxOpen = 0;
    srv.hub.on('connection', () => {
      maxOpen = Math.max(maxOpen, srv.connections());
    });
    const app = createElement(
      StrictMode,
      null,
      [0, 1, 2, 3, 4].map((id) => createElement(Widget, { key: id, id, url, heard, states })),
    );

    for (let cycle = 1; cycle <= 3; cycle++) {
      const mounted = await mount(app);
      await eventually(() => srv.connections() === 1, 5_000, 'the socket to open');
      await eventually(() => states.at(-1)?.status === 'open', 5_000, 'useConnectionState to say open');
      heard.length = 0;
      for (const ws of srv.sockets) ws.send(JSON.stringify({ event: 'count', data: cycle }));
      await eventually(() => heard.length === 5, 5_000, 'every component to hear the event');
      assert.deepEqual(
        heard.map((each) => each.component).sort(),
        [0, 1, 2, 3, 4],
        'each component once, despite StrictMode running every effect twice',
      );
      await mounted.unmount();
      await settle();
      await eventually(() => srv.connections() === 0, 5_000, 'the socket to close on unmount');
      assert.equal(srv.hub.stats().accepted, cycle, `one socket per cycle (cycle ${cycle})`);
    }
    assert.equal(maxOpen, 1, 'never two sockets at once');
    assert.equal(states[0]?.status, 'connecting');
  });

  it('keeps the connection while any component holds it, and unsubscribes the ones that unmount', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const url = `${srv.url}/echo`;
    const gone: string[] = [];
    const staying: string[] = [];
    const mounted = await mount(
      createElement(
        StrictMode,
        null,
        createElement(Listener, { key: 'gone', url, messages: gone }),
        createElement(Listener, { key: 'staying', url, messages: staying }),
      ),
    );
    await eventually(() => srv.connections() === 1);
    await mounted.render(createElement(StrictMode, null, createElement(Listener, { key: 'staying', url, messages: staying })));
    await settle();
    for (const ws of srv.sockets) ws.send('still here');
    await eventually(() => staying.length === 1);
    assert.deepEqual(gone, [], 'the unmounted listener is unsubscribed');
    assert.equal(srv.connections(), 1);
    assert.equal(srv.hub.stats().accepted, 1, 'the remaining component kept the same socket');
    await mounted.unmount();
    await settle();
    await eventually(() => srv.connections() === 0);
  });
});
