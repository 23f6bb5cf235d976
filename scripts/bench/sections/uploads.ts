import { pngFile } from '@chat/shared/testing';
import { mdTable, num } from '../format.ts';
import { rssBytes } from '../proc.ts';
import { nowMs, sleep, spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, type BenchUser } from '../users.ts';

// `uploads`: memory of an API replica while many clients upload large files
// at once. Uploads stream (busboy -> the checks -> the blob store, one 256 KiB
// chunk at a time), so a replica's RSS should grow by a few chunks per upload,
// not by the files. Measured twice per round: every client straight to one
// replica (no nginx: the replica reads the bodies as they arrive) and through
// nginx (which buffers each body before passing it on). The store is the
// cluster's default, PostgreSQL.

const MIB = 1024 * 1024;
const SAMPLE_MS = 25;

interface Pass {
  route: 'direct to api-1' | 'through nginx';
  seconds: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  /** api-1's RSS before, and its highest sample during the uploads. */
  rssBefore: number;
  rssPeak: number;
  /** The same for api-2 (through nginx, uploads spread over both). */
  rss2Before: number;
  rss2Peak: number;
}

async function uploadOnce(base: string, user: BenchUser, file: Blob): Promise<number> {
  const form = new FormData();
  form.append('file', file, 'bench.png');
  try {
    const res = await fetch(`${base}/api/uploads`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body: form });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function pass(ctx: BenchContext, route: Pass['route'], users: BenchUser[], file: Blob): Promise<Pass> {
  const pid1 = ctx.cluster.apiPid(1);
  const pid2 = ctx.cluster.apiPid(2);
  const base = route === 'through nginx' ? ctx.cluster.lbUrl : `http://127.0.0.1:${ctx.cluster.apiPorts[0]}`;
  const [rssBefore, rss2Before] = [await rssBytes(pid1), await rssBytes(pid2)];
  let [rssPeak, rss2Peak] = [rssBefore, rss2Before];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      rssPeak = Math.max(rssPeak, await rssBytes(pid1));
      rss2Peak = Math.max(rss2Peak, await rssBytes(pid2));
      await sleep(SAMPLE_MS);
    }
  })();
  const t0 = nowMs();
  const statuses = await Promise.all(users.map((u) => uploadOnce(base, u, file)));
  const seconds = (nowMs() - t0) / 1000;
  sampling = false;
  await sampler;
  const byStatus: Record<string, number> = {};
  for (const s of statuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
  return {
    route,
    seconds,
    ok: statuses.filter((s) => s === 201).length,
    failed: statuses.filter((s) => s !== 201).length,
    statuses: byStatus,
    rssBefore,
    rssPeak,
    rss2Before,
    rss2Peak,
  };
}

export async function runUploads(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.opts.uploads;
  // One user per client and round: each stays far inside its daily allowance.
  const users = await createUsers(ctx.db.database.url, o.clients * ctx.opts.rounds * 2, 'upl');
  // A real PNG of the given size (a private chunk pads it): the content check reads it as an image.
  const file = new Blob([pngFile(64, 64, o.fileBytes)]);
  const passes: Array<Pass & { round: number }> = [];
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    for (const [i, route] of (['direct to api-1', 'through nginx'] as const).entries()) {
      const start = ((round - 1) * 2 + i) * o.clients;
      const p = await pass(ctx, route, users.slice(start, start + o.clients), file);
      passes.push({ ...p, round });
      ctx.say(
        `uploads round ${round}, ${route}: ${p.ok}/${o.clients} stored in ${p.seconds.toFixed(1)} s; api-1 RSS ${(p.rssBefore / MIB).toFixed(0)} -> peak ${(p.rssPeak / MIB).toFixed(0)} MiB`,
      );
      // Let the replica's heap settle between passes.
      await sleep(2_000);
    }
  }
  const of = (route: Pass['route'], f: (p: Pass) => number) => spread(passes.filter((p) => p.route === route).map(f));
  const label = `${o.clients} clients x ${(o.fileBytes / MIB).toFixed(0)} MiB at once`;
  const failed = spread(passes.map((p) => p.failed));
  const rows: Row[] = [
    { figure: `uploads: api-1 RSS peak, ${label} direct to api-1`, unit: 'MiB', project: of('direct to api-1', (p) => p.rssPeak / MIB) },
    {
      figure: `uploads: api-1 RSS growth (peak - before), ${label} direct to api-1`,
      unit: 'MiB',
      project: of('direct to api-1', (p) => (p.rssPeak - p.rssBefore) / MIB),
      // Were the files held whole, the replica would grow by at least the bytes in flight.
      target: `< ${((o.clients * o.fileBytes) / MIB).toFixed(0)} MiB (the bytes in flight)`,
      met: of('direct to api-1', (p) => p.rssPeak - p.rssBefore).median < o.clients * o.fileBytes,
    },
    {
      figure: `uploads: api-1 RSS growth, ${label} through nginx (spread over 2 replicas)`,
      unit: 'MiB',
      project: of('through nginx', (p) => (p.rssPeak - p.rssBefore) / MIB),
    },
    { figure: `uploads: seconds for all of them, direct to api-1`, unit: 's', project: of('direct to api-1', (p) => p.seconds) },
    { figure: `uploads: seconds for all of them, through nginx`, unit: 's', project: of('through nginx', (p) => p.seconds) },
    { figure: 'uploads: failed uploads', unit: '', project: failed, target: '0', met: failed.max === 0 },
  ];
  const detail = [
    `Each pass: ${o.clients} clients (users of their own) each upload one PNG of ${num(o.fileBytes)} bytes at the same moment with \`POST /api/uploads\`; ` +
      `RSS of both API replicas is read from /proc/<pid>/status every ${SAMPLE_MS} ms during the pass. Store: PostgreSQL (\`blob_chunks\`).`,
    '',
    mdTable(
      ['round', 'route', 'stored', 'seconds', 'api-1 RSS before', 'api-1 RSS peak', 'api-2 RSS before', 'api-2 RSS peak', 'statuses'],
      passes.map((p) => [
        String(p.round),
        p.route,
        `${p.ok}/${o.clients}`,
        p.seconds.toFixed(2),
        `${(p.rssBefore / MIB).toFixed(0)} MiB`,
        `${(p.rssPeak / MIB).toFixed(0)} MiB`,
        `${(p.rss2Before / MIB).toFixed(0)} MiB`,
        `${(p.rss2Peak / MIB).toFixed(0)} MiB`,
        JSON.stringify(p.statuses),
      ]),
    ),
  ].join('\n');
  return { name: 'uploads', rows, detail, data: { passes } };
}
