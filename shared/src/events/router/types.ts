import type { Delivery, EphemeralEventName, EphemeralPayload, InterServerEventName, InterServerEvents } from '../types.ts';

/*
 * Targeted fan-out (docs/architecture.md#targeted-fan-out). A gateway
 * registers the rooms its connections are in; routing sends each event to the
 * gateways registered for its rooms, each on a channel of its own, so a
 * gateway receives what its own connections need and not the cluster's whole
 * traffic. Messages are routed in log order: one that arrives ahead of a lower
 * seq is held until the lower one is routed (or a gateway's watchdog routes it
 * from the log: services/gateway/src/delivery/upkeep.ts). So each gateway's channel
 * carries its messages in seq order, and a frame's per-gateway number `g`
 * (dense per gateway) shows a lost frame.
 *
 * Ephemeral events (presence; docs/architecture.md#presence) take the same
 * channels without a number: they are sent to the gateways of a set of rooms
 * at once, never held, never read from the log, and a lost one stays lost.
 *
 * `Router` is what the rest of the code relies on; redis.ts implements it
 * with Redis scripts (lua/), and contract.ts is the behaviour every
 * implementation must show.
 */

/** Where routing stands for one gateway: `next` is the first seq not routed yet (0: nothing routed since Redis started). */
export interface RouteHead {
  next: number;
  /** The gateway's frame number: every frame routed to the gateway before this call has g <= this. */
  g: number;
  /** Messages waiting for a lower seq to be routed first. */
  held: number;
}

/**
 * What ROUTE did with a message: routed (and any held ones it unblocked), held
 * for a lower seq, stale (already routed), or held_full (the held cap is
 * reached; the gateways' watchdog routes it from the log).
 */
export type RouteOutcome = 'routed' | 'held' | 'stale' | 'held_full';

/** One frame on a gateway's channel. */
export interface Frame {
  g: number;
  next: number;
  event: string;
  data: unknown;
}

/** One unnumbered (ephemeral) frame on a gateway's channel: the event's rooms this gateway is registered for. */
export interface EphemeralFrame {
  rooms: string[];
  event: string;
  data: unknown;
}

/** What a gateway does with each frame of its channel. */
export interface FrameHandlers {
  /** A numbered frame, in channel order. */
  frame(frame: Frame): void;
  /** An ephemeral frame (dropped when absent). */
  ephemeral?(frame: EphemeralFrame): void;
  /** A frame that does not parse. */
  malformed?(raw: string): void;
}

export interface FrameListener {
  /** Subscribes again: costs nothing if the subscription stands, mends one Redis lost. */
  renew(): Promise<void>;
  /** Stops listening (does not close the connection it was given). */
  close(): Promise<void>;
}

export interface Router {
  /** Routes a numbered message; in seq order, whatever order the calls come in. */
  route(delivery: Delivery): Promise<RouteOutcome>;
  /** Where routing starts when nothing says so yet (after a gateway read the log up to `seq` - 1); returns the next seq to route. */
  init(seq: number): Promise<number>;
  /** Routes an event to the gateways of `room` now; `addRoom` also registers those gateways for it. */
  control<E extends InterServerEventName>(room: string, event: E, data: Parameters<InterServerEvents[E]>[0], addRoom?: string): Promise<void>;
  /**
   * Sends an ephemeral event now to every gateway registered for any of
   * `rooms`, once each (an audience of more than EPHEMERAL_ROOMS_PER_CALL
   * rooms goes out in several calls, so a gateway in rooms of several may get
   * it once per call). The frame is not numbered: it moves no gateway's `g`
   * and no head. Returns how many frames were sent.
   */
  ephemeral<E extends EphemeralEventName>(rooms: readonly string[], event: E, data: EphemeralPayload<E>): Promise<number>;
  /** Adds `rooms` for `gateway` (keeping its lease); `fresh` says Redis had forgotten the gateway. */
  register(gateway: string, rooms: readonly string[], leaseMs: number): Promise<RouteHead & { fresh: boolean }>;
  /** Removes `rooms` for `gateway`, except any a membership frame numbered above `seenG` added meanwhile. */
  unregister(gateway: string, rooms: readonly string[], seenG: number): Promise<void>;
  /** Renews the lease and reads the head; undefined when Redis no longer knows the gateway. */
  sync(gateway: string, leaseMs: number): Promise<RouteHead | undefined>;
  /** Hands the gateway's frames to `handlers` in channel order; resolves once subscribed. */
  listen(gateway: string, handlers: FrameHandlers): Promise<FrameListener>;
}
