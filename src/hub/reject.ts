import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answers a handshake with a complete HTTP/1.1 response and closes the socket. The socket is
 * destroyed once the response is flushed, so a client that keeps its side open cannot hold it.
 */
export function writeRejection(
  socket: Duplex,
  status: number,
  reason: string,
  headers: Record<string, string | number> = {},
): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${reason}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
