// The truth presence is held to in the presence fault tests: the clients of a test, what each is
// in, and a poll of every node until its presence(room) and its events agree with them.
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { type PresenceEvent, type PresenceMember, tenantRoom } from '../src/index.js';
import type { startClusterNode } from './cluster-node.js';
import { delay, open } from './helpers.js';

/** The documented 30 s, and some room for slow machines: the polls give up after this. */
export const HEAL_MS = 40_000;

export type Node = Awaited<ReturnType<typeof startClusterNode>>;

interface Client {
  node: Node;
  user: string;
  ws: WebSocket;
  rooms: Set<string>;
  open: boolean;
}

/** The clients of a test, with what each is in: the truth presence is held to. */
export class World {
  readonly clients: Client[] = [];

  /** A `/live` client of `user` on `node` in `rooms`; `confirmed`: waits for each join's answer. */
  async connect(node: Node, user: string, rooms: string[], confirmed = true): Promise<Client> {
    const ws = await open(`${node.ws}/live?user=${user}&tenant=t`);
    const answers: string[] = [];
    ws.on('message', (data) => answers.push(String(data)));
    ws.on('error', () => {});
    const client = { node, user, ws, rooms: new Set<string>(), open: true };
    this.clients.push(client);
    for (const room of rooms) this.join(client, room);
    const deadline = Date.now() + 10_000;
    while (confirmed && !rooms.every((room) => answers.includes(`ok join:${room}`))) {
      assert.ok(Date.now() < deadline, `${user} joined ${rooms} on its node`);
      await delay(10);
    }
    return client;
  }

  join(client: Client, room: string): void {
    client.ws.send(`join:${room}`);
    client.rooms.add(room);
  }

  leave(client: Client, room: string): void {
    client.ws.send(`leave:${room}`);
    client.rooms.delete(room);
  }

  /** The client goes away at once (a reset, as a crashed browser would). */
  drop(client: Client): void {
    client.ws.terminate();
    client.open = false;
  }

  /** Every client of a node that was killed: their sockets die with it. */
  lost(node: Node): void {
    for (const client of this.clients) if (client.node === node) this.drop(client);
  }

  users(): string[] {
    return [...new Set(this.clients.map((client) => client.user))].sort();
  }

  truth(room: string): PresenceMember[] {
    const counts = new Map<string, number>();
    for (const client of this.clients) {
      const inRoom = room === tenantRoom('t') || client.rooms.has(room);
      if (client.open && inRoom) counts.set(client.user, (counts.get(client.user) ?? 0) + 1);
    }
    return [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([userId, connections]) => ({ userId, tenantId: 't', connections }));
  }
}

function sorted(members: PresenceMember[]): PresenceMember[] {
  return [...members].sort((a, b) => a.userId.localeCompare(b.userId));
}

/**
 * Where a node's events leave each user of `room`: a present user's last event is a join (or
 * none, on a node started after that user arrived: `lateNode`), an absent user's a leave or none.
 */
function eventsDisagree(events: PresenceEvent[], room: string, world: World, lateNode: boolean): string[] {
  const present = new Set(world.truth(room).map((member) => member.userId));
  const wrong: string[] = [];
  for (const user of world.users()) {
    const last = events.filter((event) => event.room === room && event.userId === user).at(-1)?.type;
    const fine = present.has(user) ? last === 'join' || (lateNode && last === undefined) : last !== 'join';
    if (!fine) wrong.push(`${user}: present ${present.has(user)}, last event ${last ?? 'none'}`);
  }
  return wrong;
}

/** `ann×2 bob×1`: members as a failure shows them. */
export function brief(members: PresenceMember[] | { error: string }): string {
  if (!Array.isArray(members)) return JSON.stringify(members);
  return sorted(members)
    .map((member) => `${member.userId}×${member.connections}${member.tenantId === 't' ? '' : ` (tenant ${member.tenantId})`}`)
    .join(' ');
}

/**
 * Polls every node until its presence(room) (and the tenant's) is the truth and its events agree,
 * for at most HEAL_MS; then asserts it, so that a failure shows what each node still says wrong.
 */
export async function healed(world: World, room: string, nodes: Node[], late: Node[] = []): Promise<void> {
  const deadline = Date.now() + HEAL_MS;
  const wrong = () =>
    Promise.all(
      nodes.map(async (node) => {
        try {
          const problems: string[] = [];
          for (const name of [room, tenantRoom('t')]) {
            const [says, truth] = [brief(await node.do('presence', { room: name })), brief(world.truth(name))];
            if (says !== truth) problems.push(`${name}: ${says || 'nobody'}; truth: ${truth || 'nobody'}`);
          }
          return [...problems, ...eventsDisagree(await node.do('presence-events'), room, world, late.includes(node))];
        } catch (error) {
          return [(error as Error).message];
        }
      }),
    );
  let seen = await wrong();
  while (seen.some((problems) => problems.length > 0) && Date.now() < deadline) {
    await delay(250);
    seen = await wrong();
  }
  assert.deepEqual(
    seen,
    nodes.map(() => []),
    'every node: presence is the truth and its events end where each user is',
  );
}
