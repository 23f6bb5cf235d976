import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * One round trip and one commit per send when the log is not busy.
 *
 * `store_message()` inserts a message with the checks of its target (the
 * recipient exists; the sender is a member of the room, the membership row
 * share-locked until the commit, so a concurrent removal waits for it). Then,
 * if nobody holds the log lock, it takes it and numbers the pending messages,
 * its own among them (`sequence_messages()` of the delivery-log migration),
 * in the same transaction: the message commits numbered, and seq order is
 * still commit order, since the lock is held through that commit as in any
 * numbering batch.
 *
 * It only tries the lock, never waits for it: while the log is busy (another
 * send or batch numbering), the message commits unnumbered, in parallel with
 * other inserts, and the caller numbers it after the commit in a shared batch,
 * as every send did before. So a quiet log saves a round trip and a WAL flush
 * per message, and a busy one batches as before. Not waiting also means a
 * send that holds a membership row never queues for the log lock.
 *
 * Returns the rows it numbered (in seq order), and the new message itself
 * last if it is still without a seq (the lock was busy, or `number_up_to`
 * older pending messages filled the batch; 0 numbers nothing). Nothing when
 * the target check failed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function store_message(
      p_id uuid, p_sender uuid, p_recipient_id uuid, p_recipient_name text, p_room_id uuid,
      p_content text, p_client_msg_id text, number_up_to integer
    ) returns setof messages
    language plpgsql volatile as $$
    begin
      insert into messages (id, sender_id, recipient_id, room_id, content, client_msg_id)
      select p_id, p_sender, r.id, p_room_id, p_content, p_client_msg_id
      from (
        select null::uuid as id where p_recipient_id is null and p_recipient_name is null
        union all
        select u.id from users u where u.id = p_recipient_id
        union all
        select u.id from users u where lower(u.username) = p_recipient_name
      ) r
      where p_room_id is null
        or exists (select 1 from room_members where room_id = p_room_id and user_id = p_sender for share);
      if not found then
        return;
      end if;
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_messages(number_up_to);
      end if;
      return query select * from messages where id = p_id and seq is null;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, integer)`.execute(db);
}
