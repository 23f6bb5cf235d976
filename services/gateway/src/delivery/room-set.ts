/**
 * The rooms this gateway has registered with the router, and what holds each
 * one there besides a live connection in it: a pin (a connection being
 * accepted, a membership join until it has run, a not-yet-live connection
 * that will join the room) or a registration still on its way to Redis.
 * Bookkeeping only; registrations.ts, recovery.ts and upkeep.ts act on it.
 */
export class RoomSet {
  readonly #registered = new Set<string>();
  readonly #pins = new Map<string, number>();
  readonly #inflight = new Map<string, Promise<void>>();

  /** Every room registered, for a recovery that registers them all again. */
  get registered(): ReadonlySet<string> {
    return this.#registered;
  }

  isRegistered(room: string): boolean {
    return this.#registered.has(room);
  }

  add(rooms: Iterable<string>): void {
    for (const room of rooms) this.#registered.add(room);
  }

  /** Keeps `rooms` registered until the returned function is called (once is enough; later calls do nothing). */
  pin(list: readonly string[]): () => void {
    // A copy: the caller's list may change (a pending connection's rooms) before the release.
    const rooms = [...list];
    for (const room of rooms) this.#pins.set(room, (this.#pins.get(room) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const room of rooms) {
        const left = (this.#pins.get(room) ?? 1) - 1;
        if (left > 0) this.#pins.set(room, left);
        else this.#pins.delete(room);
      }
    };
  }

  /** A room the router registered for this gateway itself (a membership join): recorded, and pinned until released. */
  adopt(room: string): () => void {
    this.#registered.add(room);
    return this.pin([room]);
  }

  /** The registration on its way for `room`, if one is. */
  inflight(room: string): Promise<void> | undefined {
    return this.#inflight.get(room);
  }

  /** Marks `rooms` as being registered until `done` settles. */
  registering(rooms: Iterable<string>, done: Promise<void>): void {
    for (const room of rooms) this.#inflight.set(room, done);
  }

  settled(rooms: Iterable<string>): void {
    for (const room of rooms) this.#inflight.delete(room);
  }

  /** Registered rooms that nothing holds any more: no pin, no registration on its way, and no local connection in them (`inUse`). */
  unused(inUse: (room: string) => boolean): string[] {
    return [...this.#registered].filter((room) => !this.#pins.has(room) && !this.#inflight.has(room) && !inUse(room));
  }

  remove(rooms: Iterable<string>): void {
    for (const room of rooms) this.#registered.delete(room);
  }
}
