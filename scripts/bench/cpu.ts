import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { mdTable, num } from './format.ts';
import { CLK_TCK, parseStat } from './proc.ts';
import { nowMs } from './stats.ts';

// Where the machine's CPU went during a measured window, per part of the
// system, from /proc/<pid>/stat of every process. On a 2-core machine the
// throughput targets are limits of total CPU: CPU milliseconds per operation,
// summed over every process that served it, is the cost the ratio compares.

export const PARTS = ['postgres', 'api', 'gateway', 'worker', 'nginx', 'redis', 'bare server', 'bench process', 'other'] as const;
export type Part = (typeof PARTS)[number];

export interface CpuSample {
  atMs: number;
  /** pid -> part and user+system ticks so far. */
  procs: Map<number, { part: Part; ticks: number }>;
}

export interface CpuUse {
  wallMs: number;
  /** CPU milliseconds per part (processes that started inside the window count from 0). */
  byPart: Record<Part, number>;
  totalMs: number;
  /** Share of the whole machine (1 = every core busy the whole window). */
  machineShare: number;
}

const partOfPid = new Map<number, Part>();
/** pid -> its start time: a pid reused by a new process is classified afresh. */
const startTimes = new Map<number, string>();

async function classify(pid: number, comm: string): Promise<Part> {
  const known = partOfPid.get(pid);
  if (known) return known;
  let part: Part = 'other';
  if (pid === process.pid) part = 'bench process';
  else if (comm === 'postgres') part = 'postgres';
  else if (comm.startsWith('nginx')) part = 'nginx';
  else if (comm.startsWith('redis-server')) part = 'redis';
  else if (comm.startsWith('node') || comm.startsWith('MainThread')) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('services/api/')) part = 'api';
    else if (cmdline.includes('services/gateway/')) part = 'gateway';
    else if (cmdline.includes('services/worker/')) part = 'worker';
    else if (cmdline.includes('scripts/bench/baselines/')) part = 'bare server';
    else if (cmdline.includes('scripts/bench/')) part = 'bench process';
  }
  partOfPid.set(pid, part);
  return part;
}

export async function sampleCpu(): Promise<CpuSample> {
  const procs = new Map<number, { part: Part; ticks: number }>();
  const atMs = nowMs();
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const { comm, ticks, startTime } = parseStat(stat);
    if (startTimes.get(pid) !== startTime) {
      partOfPid.delete(pid);
      startTimes.set(pid, startTime);
    }
    procs.set(pid, { part: await classify(pid, comm), ticks });
  }
  return { atMs, procs };
}

export function cpuBetween(before: CpuSample, after: CpuSample): CpuUse {
  const byPart = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  for (const [pid, now] of after.procs) {
    const then = before.procs.get(pid);
    const ticks = then && then.part === now.part ? now.ticks - then.ticks : now.ticks;
    byPart[now.part] += (ticks * 1000) / CLK_TCK;
  }
  const wallMs = after.atMs - before.atMs;
  const totalMs = PARTS.reduce((s, p) => s + byPart[p], 0);
  return { wallMs, byPart, totalMs, machineShare: totalMs / (wallMs * cpus().length) };
}

/** Samples at `startInMs` and `startInMs + durationMs` (a measured window inside a longer run). */
export function cpuWindow(startInMs: number, durationMs: number): Promise<CpuUse> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      sampleCpu().then((first) => {
        setTimeout(
          () => {
            sampleCpu().then((last) => resolve(cpuBetween(first, last)), reject);
          },
          Math.max(0, durationMs - (nowMs() - first.atMs)),
        );
      }, reject);
    }, startInMs);
  });
}

/** One row per measured run: machine busy, CPU per operation in all and per part. */
export function cpuTable(runs: { label: string; round: number; use: CpuUse; operations: number; unit: string }[]): string {
  const cell = (x: number) => (x >= 10 ? num(x) : x.toFixed(x >= 1 ? 2 : 3));
  return mdTable(
    ['run', 'round', 'machine busy', `CPU ms per operation, all processes`, ...PARTS.map((p) => `${p}`)],
    runs.map(({ label, round, use, operations, unit }) => [
      label,
      String(round),
      `${(use.machineShare * 100).toFixed(0)} %`,
      `${cell(use.totalMs / operations)} per ${unit}`,
      ...PARTS.map((p) => (use.byPart[p] > 0 ? cell(use.byPart[p] / operations) : '')),
    ]),
  );
}
