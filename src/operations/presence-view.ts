import { tenantRoom } from '../realtime/rooms.js';
import type { OperatedHub, ShownMember } from './operated-hub.js';

/** The most tenants whose users online the dashboard counts each time (one presenceCount each). */
const MAX_TENANTS = 100;
/** The most members `GET <pattern>/presence/<room>` lists; the count is always the whole room's. */
const MAX_MEMBERS = 500;

/**
 * Presence as the dashboard shows it: users online per tenant, counted again before each push
 * (one `presenceCount` per tenant, O(1) each), and who is in a room on request.
 */
export class PresenceView {
  private online: Record<string, number> = {};
  private counting = false;

  constructor(private readonly hub: OperatedHub) {}

  get enabled(): boolean {
    return this.hub.realtime.presence !== undefined;
  }

  /** Users online per tenant, as last counted. */
  tenants(): Record<string, number> {
    return this.online;
  }

  /** Counts again the users online of these tenants; the result shows in the next state. */
  refresh(tenants: string[]): void {
    if (!this.enabled || this.counting) return;
    this.counting = true;
    const chosen = tenants.slice(0, MAX_TENANTS);
    Promise.all(chosen.map((tenant) => this.hub.presenceCount(tenantRoom(tenant))))
      .then(
        (counts) => {
          this.online = Object.fromEntries(chosen.map((tenant, index) => [tenant, counts[index] ?? 0]));
        },
        () => {
          // The broker is away: the last counts stay until it is back.
        },
      )
      .finally(() => {
        this.counting = false;
      });
  }

  async room(room: string): Promise<{ room: string; count: number; members: ShownMember[] }> {
    const members = await this.hub.presence(room);
    members.sort((a, b) => a.userId.localeCompare(b.userId));
    return { room, count: members.length, members: members.slice(0, MAX_MEMBERS) };
  }
}
