import { DomainError } from '@chat/shared/errors';
import type { Recovery } from './recovery.ts';
import type { RoomSet } from './room-set.ts';

/** How a connection being accepted gets its rooms routed here. */
export interface Registrations {
  /**
   * Resolves once `rooms` are registered and the stream has reached the
   * position from which the router sends their messages here, so a
   * connection that joins them now misses nothing.
   */
  ready(rooms: readonly string[]): Promise<void>;
  /**
   * Pins `rooms` until `onClose` fires, then waits until they are `ready`:
   * done before a connection is accepted. Fails with `unavailable`.
   */
  open(rooms: readonly string[], onClose: (release: () => void) => void): Promise<void>;
}

export function createRegistrations(deps: { rooms: RoomSet; recovery: Pick<Recovery, 'register'> }): Registrations {
  const { rooms, recovery } = deps;
  /** The rooms asked for in this turn of the event loop: they go to Redis as one call. */
  let batch: { rooms: Set<string>; done: Promise<void> } | undefined;

  function batched(room: string): Promise<void> {
    if (!batch) {
      const next = new Set<string>();
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        batch = undefined;
        return recovery.register([...next]).finally(() => rooms.settled(next));
      });
      batch = { rooms: next, done };
    }
    batch.rooms.add(room);
    rooms.registering([room], batch.done);
    return batch.done;
  }

  function ready(list: readonly string[]): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const room of list) {
      const pending = rooms.inflight(room);
      if (pending) waits.push(pending);
      else if (!rooms.isRegistered(room)) waits.push(batched(room));
    }
    return waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => {});
  }

  return {
    ready,
    async open(list, onClose) {
      const release = rooms.pin(list);
      onClose(release);
      try {
        await ready(list);
      } catch (error) {
        release();
        throw new DomainError('unavailable', 'cannot subscribe to your rooms right now; try again', undefined, error);
      }
    },
  };
}
