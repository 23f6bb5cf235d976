import type { z } from 'zod';
import type { ChatMessage } from '../model/message.ts';
import type { ErrorBody } from '../presenters/errors.ts';
import type {
  deliveredMessage,
  delivery,
  interServerEvents,
  membershipChange,
  presenceChange,
  reloadEvent,
  resumedEvent,
  tokenRevocation,
  userTokensRevocation,
} from './schemas.ts';

export type Delivery = z.infer<typeof delivery>;
export type MembershipChange = z.infer<typeof membershipChange>;
export type TokenRevocation = z.infer<typeof tokenRevocation>;
export type UserTokensRevocation = z.infer<typeof userTokensRevocation>;
export type PresenceChange = z.infer<typeof presenceChange>;
export type DeliveredMessage = z.infer<typeof deliveredMessage>;
export type ResumedEvent = z.infer<typeof resumedEvent>;
export type ReloadEvent = z.infer<typeof reloadEvent>;

export type InterServerEventName = keyof typeof interServerEvents;
export type InterServerEvents = {
  [E in InterServerEventName]: (payload: z.infer<(typeof interServerEvents)[E]>) => void;
};

export type Ack<T> = (result: { ok: true; message: T } | ({ ok: false } & ErrorBody)) => void;

export interface ServerToClientEvents {
  message: (message: DeliveredMessage) => void;
  direct_message: (message: DeliveredMessage) => void;
  resumed: (event: ResumedEvent) => void;
  reload: (event: ReloadEvent) => void;
  presence: (change: PresenceChange) => void;
  error: (error: ErrorBody) => void;
}

export interface ClientToServerEvents {
  message: (input: unknown, ack?: Ack<ChatMessage>) => void;
}
