import type { RequestRunResult } from '../continuity/requests.js';
import type { ConnectionEvent } from '../hub/index.js';
import type { BroadcastResult } from './broadcast.js';

/** What a room publish was: `hub.publish()` (`'publish'`) or an event to a user, tenant or room (`'emit'`). */
export type PublishType = 'publish' | 'emit';

/** How a recovering connection's join of a room went: its missed messages replayed, a gap, or a failed read. */
export type RecoveryResult = 'replayed' | 'gap' | 'failed';

/** What the per-user policy did to a connection: let another replace it, or refused it. */
export type PerUserAction = 'replaced' | 'refused';

/** Facts of the real-time layer as they happen, for metrics; every method optional. */
export interface RealtimeObserver {
  /** The hub accepted a connection (its 'connection' event). */
  connected?(event: ConnectionEvent): void;
  /** A message was published on this node (it is delivered on every node). */
  published?(type: PublishType): void;
  /** This node delivered a room message to its own connections (published here or on another node). */
  delivered?(result: BroadcastResult): void;
  recovered?(result: RecoveryResult): void;
  /** A request was taken: its handler ran (after a takeover, or without the record) or it was answered from the record. */
  requestRun?(result: RequestRunResult): void;
  /** The broker's connection went down or came back. */
  brokerChanged?(up: boolean): void;
  /** The per-user policy of the route with this pattern replaced or refused `count` connections. */
  perUser?(pattern: string, action: PerUserAction, count: number): void;
}

/**
 * The observers of one hub's real-time layer. Without any (the common case) each report is one
 * length check, so the paths it sits on (every publish, every delivery) cost what they did.
 */
export class Observers {
  private list: RealtimeObserver[] = [];

  add(observer: RealtimeObserver): () => void {
    this.list = [...this.list, observer];
    return () => {
      this.list = this.list.filter((each) => each !== observer);
    };
  }

  connected(event: ConnectionEvent): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.connected?.(event);
  }

  published(type: PublishType): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.published?.(type);
  }

  delivered(result: BroadcastResult): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.delivered?.(result);
  }

  recovered(result: RecoveryResult): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.recovered?.(result);
  }

  requestRun(result: RequestRunResult): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.requestRun?.(result);
  }

  perUser(pattern: string, action: PerUserAction, count: number): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.perUser?.(pattern, action, count);
  }

  brokerChanged(up: boolean): void {
    if (this.list.length === 0) return;
    for (const observer of this.list) observer.brokerChanged?.(up);
  }
}
