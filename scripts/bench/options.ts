import { parseArgs } from 'node:util';

export const SECTIONS = ['send', 'latency', 'fanout', 'targeting', 'idle', 'door', 'history', 'uploads', 'webhooks', 'metrics', 'soak'] as const;
export type SectionName = (typeof SECTIONS)[number];
/** Sections a run without section names leaves out: soak alone takes 30 minutes (`npm run bench -- soak`). */
const NOT_BY_DEFAULT: readonly SectionName[] = ['soak'];

/** Sizes and durations of one run; --quick shrinks all of them so the whole run fits in a CI minute. */
export interface BenchOptions {
  quick: boolean;
  /** Run the services under `node --cpu-prof` and summarize the profiles in the report. */
  cpuProf: boolean;
  sections: SectionName[];
  rounds: number;
  send: { senders: number; warmupMs: number; durationMs: number };
  latency: { rates: number[]; senders: number; receiversPerKind: number; warmupMs: number; durationMs: number; lossTimeoutMs: number };
  fanout: { receiversPerKind: number; rate: number; durationMs: number };
  idle: { steps: number[]; cpuWindowMs: number; holdMs: number; connectConcurrency: number; users: number };
  door: { rateConnections: number; capacityPerKind: number; concurrency: number; holdMs: number; stormTimeoutMs: number; users: number };
  history: {
    messages: number;
    users: number;
    rooms: number;
    roomsPerUser: number;
    readers: number;
    /** Users with a big inbox: in `inboxRooms` rooms and in direct conversations with `inboxPartners` users each (GET /api/conversations). */
    inboxUsers: number;
    inboxRooms: number;
    inboxPartners: number;
    warmupMs: number;
    durationMs: number;
    soloMs: number;
    resumers: number;
    resumeMs: number;
  };
  /** `clients` upload one file of `fileBytes` each at the same moment. */
  uploads: { clients: number; fileBytes: number };
  /**
   * `users` users with a webhook each hear direct messages sent among them at `rate` a second for
   * `durationMs` (2 deliveries per message), delivered by 1, then 2 worker processes; each pass waits
   * at most `settleMs` after the last send for the deliveries.
   */
  webhooks: { users: number; rate: number; durationMs: number; settleMs: number };
  soak: {
    /** Minutes of load; one sample of every process's memory before the load and after each minute. */
    minutes: number;
    /** REST sends a second through nginx, round robin over `senders`. */
    rate: number;
    senders: number;
    /** Connected receivers, half plain WS and half Socket.IO, through nginx. */
    receivers: number;
    /** Every n-th message is global (to every receiver); the rest are direct messages to one receiver each. */
    globalEvery: number;
    /** Receivers closed and reopened (resuming from their last cursor) after each minute. */
    churnPerMinute: number;
    /** The minute whose memory the end is compared with (the "after the first 5 minutes"). */
    referenceMinute: number;
  };
}

const USAGE = `usage: npm run bench -- [section ...] [--rounds=N] [--quick] [--metrics=off] [--cpu-prof] [--soak-minutes=N]
  sections: ${SECTIONS.join(', ')} (default: all but ${NOT_BY_DEFAULT.join(', ')}; "metrics" = send and fanout again with METRICS_ENABLED=false;
            "soak" = 30 minutes of load with every process's memory sampled each minute, only when named)
  --metrics=off  same as adding the "metrics" section
  --soak-minutes=N  the soak's length instead of 30 (--quick: 2) minutes
  --cpu-prof     API replicas and gateways run under node --cpu-prof; the report summarizes each profile (figures are slower then)`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      metrics: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'soak-minutes': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  for (const p of positionals) {
    if (!(SECTIONS as readonly string[]).includes(p)) throw new Error(`unknown section "${p}"\n${USAGE}`);
  }
  if (values.metrics !== undefined && values.metrics !== 'off') throw new Error(`--metrics takes only "off"\n${USAGE}`);
  const chosen = new Set<SectionName>(positionals.length > 0 ? (positionals as SectionName[]) : SECTIONS.filter((s) => !NOT_BY_DEFAULT.includes(s)));
  if (values.metrics === 'off') chosen.add('metrics');
  const quick = values.quick ?? false;
  const rounds = values.rounds === undefined ? (quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer\n${USAGE}`);
  const soakMinutes = values['soak-minutes'] === undefined ? (quick ? 2 : 30) : Number(values['soak-minutes']);
  if (!Number.isInteger(soakMinutes) || soakMinutes < 1) throw new Error(`--soak-minutes must be a positive integer\n${USAGE}`);
  return {
    quick,
    cpuProf: values['cpu-prof'] ?? false,
    sections: SECTIONS.filter((s) => chosen.has(s)),
    rounds,
    send: quick ? { senders: 10, warmupMs: 500, durationMs: 1_500 } : { senders: 20, warmupMs: 3_000, durationMs: 10_000 },
    latency: quick
      ? { rates: [200], senders: 4, receiversPerKind: 2, warmupMs: 300, durationMs: 1_500, lossTimeoutMs: 3_000 }
      : { rates: [200, 500, 1000], senders: 10, receiversPerKind: 2, warmupMs: 1_000, durationMs: 5_000, lossTimeoutMs: 5_000 },
    fanout: quick ? { receiversPerKind: 40, rate: 20, durationMs: 2_000 } : { receiversPerKind: 200, rate: 50, durationMs: 10_000 },
    idle: quick
      ? { steps: [500], cpuWindowMs: 1_000, holdMs: 1_000, connectConcurrency: 100, users: 20 }
      : { steps: [1_000, 5_000, 10_000, 15_000], cpuWindowMs: 10_000, holdMs: 60_000, connectConcurrency: 200, users: 100 },
    door: quick
      ? { rateConnections: 500, capacityPerKind: 1_000, concurrency: 100, holdMs: 1_000, stormTimeoutMs: 30_000, users: 20 }
      : { rateConnections: 5_000, capacityPerKind: 8_000, concurrency: 200, holdMs: 30_000, stormTimeoutMs: 60_000, users: 200 },
    history: quick
      ? {
          messages: 100_000,
          users: 300,
          rooms: 200,
          roomsPerUser: 10,
          readers: 50,
          inboxUsers: 2,
          inboxRooms: 20,
          inboxPartners: 100,
          warmupMs: 500,
          durationMs: 3_000,
          soloMs: 1_500,
          resumers: 5,
          resumeMs: 1_500,
        }
      : {
          messages: 1_000_000,
          users: 300,
          rooms: 200,
          roomsPerUser: 10,
          readers: 50,
          inboxUsers: 10,
          inboxRooms: 100,
          inboxPartners: 899,
          warmupMs: 2_000,
          durationMs: 10_000,
          soloMs: 3_000,
          resumers: 10,
          resumeMs: 5_000,
        },
    uploads: quick ? { clients: 5, fileBytes: 2 * 1024 * 1024 } : { clients: 20, fileBytes: 10 * 1024 * 1024 - 4096 },
    webhooks: quick ? { users: 20, rate: 40, durationMs: 5_000, settleMs: 15_000 } : { users: 100, rate: 100, durationMs: 20_000, settleMs: 30_000 },
    soak: quick
      ? { minutes: soakMinutes, rate: 50, senders: 5, receivers: 100, globalEvery: 50, churnPerMinute: 10, referenceMinute: Math.min(1, soakMinutes) }
      : {
          minutes: soakMinutes,
          rate: 300,
          senders: 20,
          receivers: 2_000,
          globalEvery: 300,
          churnPerMinute: 60,
          referenceMinute: Math.min(5, soakMinutes),
        },
  };
}
