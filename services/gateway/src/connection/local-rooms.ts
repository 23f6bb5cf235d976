/**
 * Which local connections are in which room: the one room index of the
 * gateway, for connections of both kinds. Delivery reads it; the lifecycle
 * (going live, closing) and membership changes write it.
 */
export class LocalRooms<M> {
  private readonly byRoom = new Map<string, Set<M>>();
  private readonly byMember = new Map<M, Set<string>>();

  join(member: M, room: string): void {
    let members = this.byRoom.get(room);
    if (!members) this.byRoom.set(room, (members = new Set()));
    members.add(member);
    let joined = this.byMember.get(member);
    if (!joined) this.byMember.set(member, (joined = new Set()));
    joined.add(room);
  }

  leave(member: M, room: string): void {
    const members = this.byRoom.get(room);
    members?.delete(member);
    if (members?.size === 0) this.byRoom.delete(room);
    this.byMember.get(member)?.delete(room);
  }

  leaveAll(member: M): void {
    for (const room of this.byMember.get(member) ?? []) {
      const members = this.byRoom.get(room);
      members?.delete(member);
      if (members?.size === 0) this.byRoom.delete(room);
    }
    this.byMember.delete(member);
  }

  isIn(member: M, room: string): boolean {
    return this.byMember.get(member)?.has(room) ?? false;
  }

  has(room: string): boolean {
    return this.byRoom.has(room);
  }

  /** Everyone in any of `rooms`, each once. */
  membersOf(rooms: readonly string[]): Set<M> {
    const out = new Set<M>();
    for (const room of rooms) for (const m of this.byRoom.get(room) ?? []) out.add(m);
    return out;
  }
}
