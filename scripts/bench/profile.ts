import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { mdTable, num } from './format.ts';

// `--cpu-prof`: the services run under V8's sampling profiler (node --cpu-prof)
// and write one .cpuprofile each when they stop. This reads them back: which
// package's code (or which of ours) the busy samples were in, start-up (module
// loading) apart. Open a file in Chrome DevTools or speedscope for the stacks.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  service: 'api' | 'gateway' | 'other';
  /** Sampled time outside (idle), ms. */
  busyMs: number;
  /** Of that, loading and compiling modules at start-up. */
  startupMs: number;
  /** After start-up: [owner, ms], largest first. The owner is the innermost package (or file of ours) on the sample's stack. */
  owners: [string, number][];
}

const VM_STATES = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
/** Native write calls: on loopback a socket write runs the receiver's side of TCP too, so it is its own owner. */
const WRITES = new Set(['writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeBuffer', 'writeBuffers', 'writeString']);
const WRITE_OWNER = '(socket and pipe writes, system calls)';

function ownerOf(url: string): string | undefined {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const ours = /\/((?:services|shared|scripts)\/.*)$/.exec(url);
  return ours?.[1];
}

function summarizeProfile(file: string, profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const owners = new Map<string, number>();
  let busy = 0;
  let startup = 0;
  let service: ProfileSummary['service'] = 'other';
  for (const n of profile.nodes) {
    if (n.callFrame.url.includes('/services/api/')) service = 'api';
    else if (n.callFrame.url.includes('/services/gateway/')) service = 'gateway';
  }
  for (const [id, us] of self) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    busy += us;
    if (VM_STATES.has(leaf.callFrame.functionName)) {
      owners.set(leaf.callFrame.functionName, (owners.get(leaf.callFrame.functionName) ?? 0) + us);
      continue;
    }
    let owner: string | undefined = WRITES.has(leaf.callFrame.functionName) && leaf.callFrame.url === '' ? WRITE_OWNER : undefined;
    let loading = false;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { url } = (byId.get(at) as ProfileNode).callFrame;
      if (url.includes('internal/modules/')) loading = true;
      owner ??= ownerOf(url);
    }
    if (loading) {
      startup += us;
      continue;
    }
    const key = owner ?? '(node internals)';
    owners.set(key, (owners.get(key) ?? 0) + us);
  }
  return {
    file,
    service,
    busyMs: busy / 1000,
    startupMs: startup / 1000,
    owners: [...owners].map(([k, us]) => [k, us / 1000] as [string, number]).sort((a, b) => b[1] - a[1]),
  };
}

export async function summarizeProfiles(dir: string): Promise<ProfileSummary[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: ProfileSummary[] = [];
  for (const f of files) {
    const full = path.join(dir, f);
    out.push(summarizeProfile(full, JSON.parse(await readFile(full, 'utf8')) as CpuProfile));
  }
  return out.filter((s) => s.service !== 'other');
}

/** Markdown: per profile, the owners that took at least 1% of the busy time after start-up. */
export function profilesMarkdown(summaries: ProfileSummary[], root: string): string {
  if (summaries.length === 0) return 'No service profiles were written.';
  return summaries
    .map((s) => {
      const steady = s.busyMs - s.startupMs;
      const rows = s.owners
        .filter(([, ms]) => ms >= steady * 0.01)
        .map(([owner, ms]) => [owner, `${num(ms)} ms`, `${((ms / steady) * 100).toFixed(1)} %`]);
      return (
        `### ${s.service}: \`${path.relative(root, s.file)}\`\n\n` +
        `Busy ${num(s.busyMs)} ms in samples, of which ${num(s.startupMs)} ms loading modules at start-up; the rest by owner:\n\n` +
        mdTable(['owner (innermost package or file of ours on the stack)', 'self time', 'share'], rows)
      );
    })
    .join('\n\n');
}
