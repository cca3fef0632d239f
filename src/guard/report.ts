import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existingHub, type RouteInfo } from '../hub/index.js';
import { type Finding, findings } from './findings.js';
import { listeningServers } from './patch-server.js';

export interface ServerReport {
  /** `host:port` (or the pipe path) the server listens on. */
  address: string;
  routes: RouteInfo[];
  /** Foreign 'upgrade' listeners the hub adopted, with where they were added. */
  adopted: { owner: string | undefined }[];
}

export interface GuardReport {
  servers: ServerReport[];
  findings: Finding[];
  conflicts: number;
}

/** What the guard knows now: every listening server's routes and adopted listeners, and its findings. */
export function guardReport(): GuardReport {
  const servers = [...listeningServers].filter((server) => server.listening).map(describeServer);
  const all = findings();
  return { servers, findings: all, conflicts: all.filter((finding) => finding.severity === 'conflict').length };
}

function describeServer(server: Server): ServerReport {
  const hub = existingHub(server);
  return { address: addressOf(server), routes: hub?.routes() ?? [], adopted: hub?.adoptedListeners() ?? [] };
}

function addressOf(server: Server): string {
  const address = server.address() as AddressInfo | string | null;
  if (!address) return 'not listening';
  if (typeof address === 'string') return address;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${host}:${address.port}`;
}
