import type { IncomingMessage } from 'node:http';

export interface DemoPrincipal {
  userId: string;
  tenantId: string;
}

/**
 * The demo's stand-in for real authentication: `?user=ann&tenant=acme` on the handshake. A user
 * named `blocked` is refused, to show a 401. A real app verifies a token here.
 */
export function demoAuthenticate(req: IncomingMessage): DemoPrincipal | null {
  const query = new URL(req.url ?? '/', 'http://demo').searchParams;
  const userId = query.get('user') || 'guest';
  if (userId === 'blocked') return null;
  return { userId, tenantId: query.get('tenant') || 'public' };
}
