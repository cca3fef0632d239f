import http from 'node:http';
import https from 'node:https';

/** An http or https server (the kinds whose 'upgrade' the guard takes over). */
export function isHttpServer(value: unknown): value is http.Server {
  return value instanceof http.Server || value instanceof https.Server;
}
