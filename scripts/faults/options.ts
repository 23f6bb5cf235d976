import { parseArgs } from 'node:util';

/** How long and how big a fault-suite run is. */
export interface FaultOptions {
  short: boolean;
  /** Load per phase; the fault is injected halfway through. */
  phaseMs: number;
  /** Receivers of each kind (plain WebSocket and Socket.IO). */
  receiversPerKind: number;
  /** A sender retries one message with its key until acknowledged or this long after the first attempt. */
  sendDeadlineMs: number;
  /** Bound on waiting, after the load stops, for every receiver to have every acknowledged message. */
  settleMs: number;
  /** How long Redis stays dead before it is started again. */
  redisDownMs: number;
  /** Pause between one sender's messages. */
  sendIntervalMs: number;
  /** Run on a Redis Cluster of 3 masters with a replica each, and kill a master instead of restarting Redis. */
  redisCluster: boolean;
}

const USAGE =
  'usage: npm run test:faults -- [--short] [--redis-cluster] [--phase-seconds N] [--receivers N]  (env: FAULT_PHASE_SECONDS, FAULT_RECEIVERS)';

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${text}"\n${USAGE}`);
  return n;
}

/** Flags win over the environment; --short picks CI sizes (the whole run within 3 minutes). */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): FaultOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean', default: false },
      'redis-cluster': { type: 'boolean', default: false },
      'phase-seconds': { type: 'string' },
      receivers: { type: 'string' },
    },
    strict: true,
  });
  const short = values.short ?? false;
  const phaseSeconds = positive('--phase-seconds', values['phase-seconds']) ?? positive('FAULT_PHASE_SECONDS', env.FAULT_PHASE_SECONDS);
  const receivers = positive('--receivers', values.receivers) ?? positive('FAULT_RECEIVERS', env.FAULT_RECEIVERS);
  return {
    short,
    phaseMs: (phaseSeconds ?? (short ? 8 : 30)) * 1000,
    receiversPerKind: Math.round(receivers ?? (short ? 8 : 15)),
    sendDeadlineMs: short ? 20_000 : 30_000,
    settleMs: short ? 20_000 : 30_000,
    redisDownMs: 3_000,
    sendIntervalMs: 200,
    redisCluster: values['redis-cluster'] ?? false,
  };
}
