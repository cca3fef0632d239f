import type { WebSocketServer } from 'ws';
import { patchServers } from './patch-server.js';
import { patchSocketIO } from './patch-socketio.js';
import { patchWs } from './patch-ws.js';
import { appModules } from './resolve-app-module.js';

const INSTALLED = Symbol.for('switchboard.guard.installed');

/**
 * Makes unchanged legacy code safe: every `'upgrade'` listener of an http(s) server goes through
 * the server's hub. Idempotent, and shared by the ESM and CommonJS builds.
 */
export function installGuard(): void {
  const holder = globalThis as typeof globalThis & { [INSTALLED]?: boolean };
  if (holder[INSTALLED]) return;
  holder[INSTALLED] = true;
  patchServers();
  for (const ws of appModules<{ WebSocketServer?: typeof WebSocketServer; Server?: typeof WebSocketServer }>('ws')) {
    const WebSocketServerClass = ws.WebSocketServer ?? ws.Server;
    if (WebSocketServerClass) patchWs(WebSocketServerClass);
  }
  for (const socketio of appModules<{ Server?: Parameters<typeof patchSocketIO>[0] }>('socket.io')) {
    if (socketio.Server) patchSocketIO(socketio.Server);
  }
}
