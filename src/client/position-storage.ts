import type { PositionStore, StoredPosition } from './positions.js';

type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export function sessionStorageOf(): StorageLike | undefined {
  try {
    // Reading it can throw (storage disabled, sandboxed frame); that counts as not having it.
    const storage = (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
    return storage && typeof storage.getItem === 'function' ? storage : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `keepPositions: 'session'`: positions in sessionStorage, per connection key, so that a reload of
 * the page resumes where it was instead of starting with nothing (and a gap it never hears about).
 * sessionStorage rather than localStorage: it belongs to this tab, as the positions do.
 */
export function sessionPositions(key: string): PositionStore | undefined {
  const storage = sessionStorageOf();
  if (!storage) return undefined;
  const name = `switchboard:positions:${key}`;
  return {
    load() {
      try {
        const parsed: unknown = JSON.parse(storage.getItem(name) ?? '[]');
        if (!Array.isArray(parsed)) return [];
        // Anything else was written by another version or by hand: dropped rather than trusted.
        return parsed
          .filter(
            (entry): entry is StoredPosition =>
              Array.isArray(entry) &&
              typeof entry[0] === 'string' &&
              typeof entry[1] === 'number' &&
              typeof entry[2] === 'string',
          )
          .map(
            ([room, offset, epoch, gapped]): StoredPosition =>
              gapped === true ? [room, offset, epoch, true] : [room, offset, epoch],
          );
      } catch {
        return [];
      }
    },
    save(entries) {
      try {
        storage.setItem(name, JSON.stringify(entries));
      } catch {
        // Over quota: the positions stay in memory, which still covers reconnects without a reload.
      }
    },
  };
}
