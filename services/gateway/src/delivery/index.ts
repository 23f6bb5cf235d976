import type { Feed } from '@chat/shared/chat';
import type { Router } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { Connection } from '../connection/connection.ts';
import type { LocalRooms } from '../connection/local-rooms.ts';
import type { LocalTokens } from '../connection/local-tokens.ts';
import type { EphemeralSink } from '../connection/outbox.ts';
import { createDispatch } from './dispatch.ts';
import { createEphemeralDispatch } from './ephemeral.ts';
import { createLocalFanout } from './fanout.ts';
import { createIntake } from './intake.ts';
import { createRecovery } from './recovery.ts';
import { createRegistrations, type Registrations } from './registrations.ts';
import { RoomSet } from './room-set.ts';
import { createStream } from './stream.ts';
import { createUpkeep } from './upkeep.ts';

/**
 * This gateway's side of targeted fan-out (shared/src/events/router): the
 * rooms it registers, the frames that arrive on its channel in log order, and
 * the one ordered stream that applies them to its connections; ephemeral
 * frames (presence, reads, typing) go to the outbox as they arrive. The connection lifecycle
 * sees only this.
 */
export interface DeliveryCore {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** See Registrations.open: a connection's rooms are routed here before it is accepted. */
  open: Registrations['open'];
  /** The log position the stream has reached (see Stream.watermark). */
  readonly watermark: number;
  /** Resolves once the stream has reached `seq` (a resume's cursor). */
  reach(seq: number): Promise<void>;
}

export interface DeliveryDeps {
  router: Router;
  /** Unique per process: a restarted gateway never shares a channel or a frame count with its former self. */
  gatewayId: string;
  feed: Feed;
  /** The gateway's one room index, which deliveries read and membership changes write. */
  local: LocalRooms<Connection>;
  /** The gateway's connections by user: membership changes and revocations find them there. */
  tokens: LocalTokens;
  /** Where ephemeral events (presence, reads, typing) for local connections go, to be sent or coalesced and sent. */
  outbox: EphemeralSink;
  /** DELIVERY_GAP_WAIT, DELIVERY_POLL_INTERVAL and the presence lease (the router's lease on this gateway). */
  timing: { gapWaitMs: number; pollIntervalMs: number; leaseMs: number };
  logger: Logger;
  metrics: Metrics;
}

/** Wires the delivery core's parts, each of which gets what it needs at construction: nothing is bound late. */
export function createDeliveryCore(deps: DeliveryDeps): DeliveryCore {
  const { router, gatewayId, feed, local, tokens, outbox, timing, logger, metrics } = deps;
  const registered = new RoomSet();
  const fanout = createLocalFanout({ rooms: local, feed, metrics });
  const stream = createStream({ feed, logger, apply: (d) => fanout.deliver(d) });
  const dispatch = createDispatch({ stream, fanout, local, tokens, registered, feed, logger, metrics });
  const intake = createIntake({ stream, dispatch, gapWaitMs: timing.gapWaitMs, logger, metrics });
  const ephemeral = createEphemeralDispatch({ local, outbox, logger, metrics });
  const recovery = createRecovery({ router, gatewayId, leaseMs: timing.leaseMs, stream, intake, ephemeral, rooms: registered, logger });
  const registrations = createRegistrations({ rooms: registered, recovery });
  const upkeep = createUpkeep({
    router,
    gatewayId,
    feed,
    stream,
    recovery,
    intake,
    rooms: registered,
    inUse: (room) => local.has(room),
    pollIntervalMs: timing.pollIntervalMs,
    logger,
  });

  return {
    async start() {
      await recovery.start();
      upkeep.start();
    },
    async stop() {
      stream.stop();
      upkeep.stop();
      await recovery.stop();
    },
    open: (rooms, onClose) => registrations.open(rooms, onClose),
    get watermark() {
      return stream.watermark;
    },
    reach: (seq) => recovery.reach(seq),
  };
}
