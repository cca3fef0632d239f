/** An adopted listener that answers every path, and the ones after it that never got a handshake. */
export interface ShadowedEvent {
  /** Where the listener that takes every path was added. */
  owner: string | undefined;
  /** Where each listener after it, never offered a handshake, was added. */
  shadowed: (string | undefined)[];
  /** Two different paths it answered. */
  paths: string[];
}

interface Watched {
  owner: string | undefined;
}

/**
 * Tells, from what adopted listeners really do, when one of them starves those after it: it
 * answered handshakes on two different paths while a later one was never offered any. Two raw
 * listeners on one server are not a conflict in themselves (engine.io's checks its path and lets
 * others through, and the hub offers each socket to the next); one that takes every path is.
 */
export class ShadowWatch<L extends Watched> {
  private readonly offered = new WeakSet<L>();
  private readonly paths = new WeakMap<L, Set<string>>();
  private reported = false;

  /** `listeners` were offered the handshake in order, up to `answeredBy`, which answered it on `path`. */
  answered(listeners: readonly L[], answeredBy: number, path: string, all: readonly L[]): ShadowedEvent | undefined {
    for (let index = 0; index <= answeredBy && index < listeners.length; index++) this.offered.add(listeners[index] as L);
    const by = listeners[answeredBy];
    if (this.reported || by === undefined) return undefined;
    let seen = this.paths.get(by);
    if (!seen) {
      seen = new Set();
      this.paths.set(by, seen);
    }
    if (seen.size < 2) seen.add(path);
    if (seen.size < 2) return undefined;
    const after = all.slice(all.indexOf(by) + 1).filter((listener) => !this.offered.has(listener));
    if (after.length === 0) return undefined;
    this.reported = true;
    return { owner: by.owner, shadowed: after.map((listener) => listener.owner), paths: [...seen] };
  }
}
