import type { ColumnType, Generated, Selectable } from 'kysely';

type CreatedAt = ColumnType<Date, never, never>;

export interface UsersTable {
  id: Generated<string>;
  username: string;
  email: string;
  password_hash: string;
  /** Tokens issued before this instant are refused ("log out everywhere"). */
  tokens_valid_after: ColumnType<Date | null, never, Date | null>;
  /** `bot`: a user owned by `owner_id` that signs in with access tokens only (the access-tokens migration). */
  kind: ColumnType<'person' | 'bot', 'person' | 'bot' | undefined, never>;
  owner_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: CreatedAt;
}

export interface RoomsTable {
  id: Generated<string>;
  name: string;
  description: string;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface RoomMembersTable {
  room_id: string;
  user_id: string;
  joined_at: CreatedAt;
}

export interface MessagesTable {
  id: Generated<string>;
  /** Position in the commit-ordered log (see the delivery-log migration). */
  seq: ColumnType<string, string | bigint, never>;
  client_msg_id: string | null;
  sender_id: string;
  recipient_id: string | null;
  room_id: string | null;
  content: string;
  created_at: CreatedAt;
  /** Set by the last edit (the message-changes migration). */
  edited_at: ColumnType<Date | null, never, never>;
  /** Set by the deletion, which also erased the content. */
  deleted_at: ColumnType<Date | null, never, never>;
  /** The summary of message_reactions, kept in step by react_message (the reactions migration). */
  reactions: ColumnType<Array<{ emoji: string; count: number; users: string[] }>, never, never>;
  /** The thread's root (the threads migration); its reply_count and last_reply_at count the replies. */
  reply_to: ColumnType<string | null, never, never>;
  reply_count: ColumnType<number, never, never>;
  last_reply_at: ColumnType<Date | null, never, never>;
  /** The summary of its uploads (the uploads migration), set by store_message, emptied by a deletion. */
  attachments: ColumnType<
    Array<{ id: string; name: string; size: number; content_type: string; url: string; width?: number; height?: number }>,
    never,
    never
  >;
}

/** One user's reaction with one emoji to one message. */
export interface MessageReactionsTable {
  message_id: string;
  emoji: string;
  user_id: string;
  created_at: CreatedAt;
}

/** An edit or deletion of a message: its own position in the log (the message-changes migration). */
export interface MessageChangesTable {
  id: string;
  message_id: string;
  kind: 'updated' | 'deleted';
  sender_id: string;
  recipient_id: string | null;
  room_id: string | null;
  seq: ColumnType<string | null, never, never>;
  actor_id: string;
  client_key: string | null;
  /** For a reaction's change: the emoji, and whether it was added (the integrations migration). */
  reaction: string | null;
  reaction_added: boolean | null;
  created_at: CreatedAt;
}

/** How far a user has read a conversation (the conversation-reads migration); written by markRead only. */
export interface ConversationReadsTable {
  user_id: string;
  /** `global`, `user:<the other user's id>` or `room:<room id>`, as this user names it. */
  conversation: string;
  message_id: string;
  message_created_at: Date;
  updated_at: ColumnType<Date, never, never>;
}

/** A file sent to be attached (the uploads migration); its bytes are in the blob store under its id. */
export interface UploadsTable {
  id: Generated<string>;
  uploader_id: string;
  name: string;
  status: ColumnType<'receiving' | 'ready' | 'deleted', 'receiving' | 'ready' | 'deleted' | undefined, 'receiving' | 'ready' | 'deleted'>;
  /** Bytes counted against the daily allowance until `size` is known. */
  reserved: ColumnType<string, number | bigint, number | bigint>;
  size: ColumnType<string | null, number | bigint | null, number | bigint | null>;
  content_type: string | null;
  sha256: string | null;
  width: number | null;
  height: number | null;
  message_id: ColumnType<string | null, never, never>;
  created_at: CreatedAt;
  status_at: ColumnType<Date, never, Date>;
}

/** The PostgreSQL blob store: the bytes of a blob in order, one chunk a row. */
export interface BlobChunksTable {
  key: string;
  n: number;
  data: Buffer;
}

/** An access token: the SHA-256 of its secret, who it acts as, what it may do (the access-tokens migration). */
export interface AccessTokensTable {
  id: Generated<string>;
  user_id: string;
  created_by: string;
  name: string;
  token_hash: Buffer;
  scopes: string[];
  created_at: CreatedAt;
  expires_at: Date | null;
}

/** An outgoing webhook and its delivery state (the integrations migration). */
export interface WebhooksTable {
  id: Generated<string>;
  owner_id: string;
  url: string;
  events: string[];
  /** `global`, `room:<id>` or `user:<id>`; null for everything the owner sees. */
  conversation: string | null;
  secret: string;
  status: Generated<'active' | 'paused'>;
  /** The last log position acknowledged or skipped. */
  cursor: ColumnType<string, string | bigint | number, string | bigint | number>;
  failures: Generated<number>;
  next_attempt_at: Generated<Date>;
  lease_token: string | null;
  lease_until: Date | null;
  last_error: string | null;
  paused_at: Date | null;
  created_at: CreatedAt;
}

/** One attempt to deliver a log entry to a webhook. */
export interface WebhookDeliveriesTable {
  id: ColumnType<string, never, never>;
  webhook_id: string;
  event_id: string;
  seq: ColumnType<string, string | number, never>;
  event: string;
  attempt: number;
  outcome: 'delivered' | 'failed';
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  created_at: CreatedAt;
}

/** A browser's Web Push subscription. */
export interface PushSubscriptionsTable {
  id: Generated<string>;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: CreatedAt;
}

/** What waits to be pushed to a user about one conversation (coalescing state). */
export interface PushNoticesTable {
  user_id: string;
  conversation: string;
  pending: number;
  last_seq: ColumnType<string, string | number, string | number>;
  title: string;
  body: string;
  due_at: Date;
  sent_at: Date | null;
}

/** A named reader of the whole log, its position and its lease. */
export interface LogReadersTable {
  name: string;
  seq: ColumnType<string, string | number, string | number>;
  lease_token: string | null;
  lease_until: Date | null;
}

/** One row: the last seq handed out. Locked by each insert until its commit. */
export interface MessageLogTable {
  id: ColumnType<boolean, never, never>;
  head: ColumnType<string, never, string | bigint>;
}

/** A revoked token id, kept until the token would have expired (the revocations migration). */
export interface RevokedTokensTable {
  jti: string;
  user_id: string;
  expires_at: Date;
  revoked_at: CreatedAt;
}

export interface DB {
  revoked_tokens: RevokedTokensTable;
  message_log: MessageLogTable;
  users: UsersTable;
  rooms: RoomsTable;
  room_members: RoomMembersTable;
  messages: MessagesTable;
  message_changes: MessageChangesTable;
  message_reactions: MessageReactionsTable;
  conversation_reads: ConversationReadsTable;
  uploads: UploadsTable;
  blob_chunks: BlobChunksTable;
  access_tokens: AccessTokensTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  push_subscriptions: PushSubscriptionsTable;
  push_notices: PushNoticesTable;
  log_readers: LogReadersTable;
}

export type UserRow = Selectable<UsersTable>;
export type RoomRow = Selectable<RoomsTable>;
