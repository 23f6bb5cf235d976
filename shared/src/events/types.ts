import type { ChatMessage } from '../chat/types.ts';

export type MessageEventName = 'message' | 'direct_message';

/** A committed message and the rooms that should see it. */
export interface Delivery {
  rooms: string[];
  event: MessageEventName;
  message: ChatMessage;
}

export interface MembershipChange {
  action: 'join' | 'leave';
  userId: string;
  roomId: string;
}

/** Sockets authenticated with this token are disconnected on every gateway. */
export interface TokenRevocation {
  userId: string;
  jti: string;
}

export interface PresenceChange {
  user_id: string;
  username: string;
  status: 'online' | 'offline';
}

/** Events between servers (API -> gateways, gateway -> gateways) via serverSideEmit. */
export interface InterServerEvents {
  deliver: (delivery: Delivery) => void;
  membership: (change: MembershipChange) => void;
  token_revoked: (revocation: TokenRevocation) => void;
}

export type Ack<T> = (result: { ok: true; message: T } | { ok: false; error: string; code: string }) => void;

export interface ServerToClientEvents {
  message: (message: ChatMessage) => void;
  direct_message: (message: ChatMessage) => void;
  presence: (change: PresenceChange) => void;
  error: (error: { error: string; code: string }) => void;
}

export interface ClientToServerEvents {
  message: (input: unknown, ack?: Ack<ChatMessage>) => void;
}
