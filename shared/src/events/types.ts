import type { z } from 'zod';
import type { ErrorBody } from '../presenters/errors.ts';
import type { CommandName, CommandReply, ServerEventName, ServerEventPayload } from './frames.ts';
import type {
  deliveredMessage,
  delivery,
  ephemeralEvents,
  interServerEvents,
  membershipChange,
  messageEventName,
  presenceChange,
  tokenRevocation,
  userTokensRevocation,
} from './schemas.ts';

export type Delivery = z.infer<typeof delivery>;
export type MembershipChange = z.infer<typeof membershipChange>;
export type TokenRevocation = z.infer<typeof tokenRevocation>;
export type UserTokensRevocation = z.infer<typeof userTokensRevocation>;
export type PresenceChange = z.infer<typeof presenceChange>;
export type DeliveredMessage = z.infer<typeof deliveredMessage>;

export type EphemeralEventName = keyof typeof ephemeralEvents;
export type EphemeralPayload<E extends EphemeralEventName = EphemeralEventName> = z.infer<(typeof ephemeralEvents)[E]>;

export type InterServerEventName = keyof typeof interServerEvents;
export type InterServerEvents = {
  [E in InterServerEventName]: (payload: z.infer<(typeof interServerEvents)[E]>) => void;
};

/** A Socket.IO command's acknowledgement: the reply, or the error. */
export type Ack = (result: ({ ok: true } & CommandReply) | ({ ok: false } & ErrorBody)) => void;

/** The seed's message events carry the message itself plus its cursor on Socket.IO; every other event its payload. */
type IoPayload<E extends ServerEventName> = E extends z.infer<typeof messageEventName> ? DeliveredMessage : ServerEventPayload<E>;

export type ServerToClientEvents = { [E in ServerEventName]: (payload: IoPayload<E>) => void };

export type ClientToServerEvents = { [C in CommandName]: (input: unknown, ack?: Ack) => void };
