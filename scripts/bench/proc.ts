import { readFile } from 'node:fs/promises';

/** Resident set size of a process, bytes (VmRSS of /proc/<pid>/status). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** Kernel clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every Linux this runs on. */
export const CLK_TCK = 100;

/** The parts of a /proc/<pid>/stat line the bench reads: command name, user plus system ticks (fields 14 and 15), start time. */
export function parseStat(stat: string): { comm: string; ticks: number; startTime: string } {
  // The command name (field 2) sits in parentheses and may contain spaces; fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ticks: Number(fields[11]) + Number(fields[12]),
    startTime: fields[19] ?? '',
  };
}

/** User plus system CPU time a process has used, seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).ticks / CLK_TCK;
}

/** CPU share (1.0 = one core) a process used over `ms`. */
export async function cpuShare(pid: number, ms: number): Promise<number> {
  const before = await cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await cpuSeconds(pid);
  return (after - before) / ((performance.now() - t0) / 1000);
}

/** The memory lines of /proc/<pid>/status, bytes: resident total, its anonymous (heap, malloc, stacks) and file-backed (code, mapped files) parts; and the thread count. */
export interface MemStatus {
  rss: number;
  anon: number;
  file: number;
  threads: number;
}

export async function memStatus(pid: number): Promise<MemStatus> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN) };
}
