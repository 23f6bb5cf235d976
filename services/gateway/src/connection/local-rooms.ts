/** A connection as the room index sees it: the list of its rooms. */
export interface RoomMember {
  /** The rooms it is in once it is live (the index keeps this list in step), or will join when it goes live. */
  readonly rooms: string[];
}

/**
 * Which local connections are in which room: the one room index of the
 * gateway, for connections of both kinds. Delivery reads it; the lifecycle
 * (going live, closing) and membership changes write it. A member's own
 * `rooms` list is its side of the index, so a connection costs one entry per
 * room here and nothing more.
 */
export class LocalRooms<M extends RoomMember> {
  readonly #byRoom = new Map<string, Set<M>>();

  /** Puts `member` in every room of its list: it goes live. */
  joinAll(member: M): void {
    for (const room of member.rooms) this.#add(room, member);
  }

  join(member: M, room: string): void {
    if (!member.rooms.includes(room)) member.rooms.push(room);
    this.#add(room, member);
  }

  leave(member: M, room: string): void {
    const at = member.rooms.indexOf(room);
    if (at >= 0) member.rooms.splice(at, 1);
    this.#remove(room, member);
  }

  /** Takes `member` out of every room (it closed); its list stays as it was. */
  leaveAll(member: M): void {
    for (const room of member.rooms) this.#remove(room, member);
  }

  isIn(member: M, room: string): boolean {
    return this.#byRoom.get(room)?.has(member) ?? false;
  }

  has(room: string): boolean {
    return this.#byRoom.has(room);
  }

  /** Everyone in any of `rooms`, each once. */
  membersOf(rooms: readonly string[]): Set<M> {
    const out = new Set<M>();
    for (const room of rooms) for (const m of this.#byRoom.get(room) ?? []) out.add(m);
    return out;
  }

  #add(room: string, member: M) {
    let members = this.#byRoom.get(room);
    if (!members) this.#byRoom.set(room, (members = new Set()));
    members.add(member);
  }

  #remove(room: string, member: M) {
    const members = this.#byRoom.get(room);
    if (!members?.delete(member)) return;
    if (members.size === 0) this.#byRoom.delete(room);
  }
}
