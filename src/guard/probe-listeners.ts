import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existingHub } from '../hub/index.js';

/** Paths no app serves: a listener that answers both answers every path. */
const PROBE_PATHS = ['/.switchboard-doctor/probe-1', '/.switchboard-doctor/probe-2'];
const PROBE_TIMEOUT_MS = 1_000;

/**
 * For the doctor: sends two WebSocket handshakes on paths no one serves to each listening plain
 * HTTP server with several adopted 'upgrade' listeners, so that one which takes every path shows
 * itself (the hub reports it as it would at run time) before the report is made. Accepted probes
 * are closed at once; the app sees two connections on such a listener, nothing elsewhere.
 */
export async function probeAdoptedListeners(servers: Iterable<http.Server>): Promise<void> {
  const probes: Promise<void>[] = [];
  for (const server of servers) {
    if (!server.listening || !(server instanceof http.Server) || isTls(server)) continue;
    if ((existingHub(server)?.adoptedListeners().length ?? 0) < 2) continue;
    const address = server.address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') continue;
    const host = address.address === '::' || address.address === '0.0.0.0' ? 'localhost' : address.address;
    // One after the other: the second path is what tells a listener that takes every path.
    probes.push(PROBE_PATHS.reduce((chain, path) => chain.then(() => probe(host, address.port, path)), Promise.resolve()));
  }
  await Promise.all(probes);
}

function probe(host: string, port: number, path: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host,
      port,
      path,
      timeout: PROBE_TIMEOUT_MS,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'c3dpdGNoYm9hcmQgZG9jdG9y',
        'Sec-WebSocket-Version': '13',
      },
    });
    const done = () => {
      req.destroy();
      resolve();
    };
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      done();
    });
    req.on('response', (res) => {
      res.resume();
      done();
    });
    req.on('timeout', done);
    req.on('error', done);
    req.end();
  });
}

function isTls(server: http.Server): boolean {
  return 'addContext' in server;
}
