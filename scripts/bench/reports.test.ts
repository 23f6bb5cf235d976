import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.ts';
import { fileStamp, LATEST_REPORT, reportFiles } from './report.ts';

// loadtest/reports/latest.md is what loadtest/README.md and people point at as "the
// latest report": it must be the newest bench-<timestamp>.md, byte for byte. Runs
// under the CPU profiler are profiled-<timestamp>.md and never become latest.md.

const dir = path.resolve(import.meta.dirname, '../../loadtest/reports');
const STAMP = /^bench-(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)Z\.md$/;

describe('loadtest/reports', () => {
  it('latest.md is the newest bench-*.md (npm run bench writes both)', async () => {
    const runs = (await readdir(dir))
      .map((name) => ({ name, m: STAMP.exec(name) }))
      .flatMap(({ name, m }) => (m ? [{ name, time: Date.parse(`${m[1]}:${m[2]}:${m[3]}Z`) }] : []))
      .sort((a, b) => a.time - b.time);
    const newest = runs.at(-1);
    expect(newest, 'no bench-*.md report').toBeDefined();
    const latest = await readFile(path.join(dir, LATEST_REPORT), 'utf8');
    expect(latest, `latest.md is not ${newest?.name}`).toBe(await readFile(path.join(dir, newest?.name ?? ''), 'utf8'));
    // The name's stamp is the run's own start time (the report's title).
    const title = /^# Benchmark (\S+)\n/.exec(latest)?.[1] ?? '';
    expect(`bench-${fileStamp(title)}.md`).toBe(newest?.name);
  });

  it('a plain run writes bench-* and latest.md; a --cpu-prof run writes profiled-* and leaves latest.md', () => {
    const startedAt = '2026-12-02T14:25:05.123Z';
    expect(reportFiles({ startedAt, options: parseOptions(['send']) })).toEqual({
      json: 'bench-2026-12-02T14-25-05Z.json',
      md: 'bench-2026-12-02T14-25-05Z.md',
      latest: 'latest.md',
    });
    expect(reportFiles({ startedAt, options: parseOptions(['send', '--cpu-prof']) })).toEqual({
      json: 'profiled-2026-12-02T14-25-05Z.json',
      md: 'profiled-2026-12-02T14-25-05Z.md',
      latest: undefined,
    });
  });
});
