import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mdTable, num } from './format.ts';
import type { Machine } from './machine.ts';
import type { BenchOptions } from './options.ts';
import type { Spread } from './stats.ts';
import { ratio, type Row, type SectionResult } from './types.ts';

export interface Report {
  startedAt: string;
  finishedAt: string;
  command: string;
  options: BenchOptions;
  machine: Machine;
  /** Load average (1, 5, 15 min) when the run ended. */
  loadAverageAtEnd: number[];
  sections: SectionResult[];
  /** Markdown of the services' CPU profiles (--cpu-prof). */
  profiles?: string;
}

const cell = (s: Spread | undefined, unit: string) => {
  if (!s) return '-';
  const one = s.values.length === 1 || s.min === s.max;
  const u = unit ? ` ${unit}` : '';
  return one ? `${num(s.median)}${u}` : `${num(s.median)}${u} (${num(s.min)}-${num(s.max)})`;
};
const verdict = (row: Row) => (row.target === undefined ? '' : row.met === undefined ? 'n/a' : row.met ? 'met' : '**not met**');

export function summaryTable(sections: SectionResult[]): string {
  const rows = sections.flatMap((s) => s.rows);
  return mdTable(
    ['figure', 'this project', 'bare baseline', 'ratio', 'target', ''],
    rows.map((r) => [
      r.figure,
      cell(r.project, r.unit),
      cell(r.bare, r.unit),
      Number.isFinite(ratio(r)) ? `${ratio(r).toFixed(2)}x` : '-',
      r.target ?? '',
      verdict(r),
    ]),
  );
}

function toMarkdown(report: Report): string {
  const m = report.machine;
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    `# Benchmark ${report.startedAt}`,
    '',
    `\`${report.command}\`: ${report.options.rounds} round(s) per measurement${report.options.quick ? ', --quick sizes' : ''}; ` +
      'cells are the median over rounds with (min-max); ratio = this project / bare baseline (medians).' +
      (report.options.cpuProf ? ' **The services ran under the CPU profiler (--cpu-prof): their figures are slower than in a plain run.**' : ''),
    '',
    '## Machine',
    '',
    mdTable(
      ['', ''],
      [
        ['CPU', `${m.cpu}, ${m.cores} cores`],
        ['RAM', `${m.ramGiB} GiB`],
        ['OS', m.os],
        ['Node.js', m.node],
        ['PostgreSQL', m.postgres],
        ['Redis', m.redis],
        ['nginx', m.nginx],
        ['open files limit', m.fileLimit],
        ['load average at start (1/5/15 min)', la(m.loadAverage)],
        ['load average at end', la(report.loadAverageAtEnd)],
        ['run', `${report.startedAt} to ${report.finishedAt}`],
      ],
    ),
    '',
    '## Summary',
    '',
    summaryTable(report.sections),
    '',
    'Targets are printed for people to judge, not asserted; the machine is shared, so read the load average with them.',
    '',
    ...report.sections.flatMap((s) => [`## ${s.name}`, '', s.detail, '']),
    ...(report.profiles ? ['## CPU profiles', '', report.profiles, ''] : []),
  ].join('\n');
}

/** A run's start time as it appears in file names: 2026-12-02T13-12-03Z. */
export const fileStamp = (isoTime: string) => isoTime.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');

/** Always a copy of the newest bench-*.md (scripts/bench/reports.test.ts checks it). */
export const LATEST_REPORT = 'latest.md';

/**
 * The reports a run writes into loadtest/reports/: `bench-<timestamp>.json` and `.md`, and
 * `latest.md`, a copy of that `.md`, so latest.md is always the newest bench-*.md. A run
 * under the CPU profiler (--cpu-prof) is slower by design: it is written as
 * `profiled-<timestamp>.json` and `.md` and leaves latest.md alone.
 */
export function reportFiles(report: Pick<Report, 'startedAt' | 'options'>): { json: string; md: string; latest: string | undefined } {
  const name = `${report.options.cpuProf ? 'profiled' : 'bench'}-${fileStamp(report.startedAt)}`;
  return { json: `${name}.json`, md: `${name}.md`, latest: report.options.cpuProf ? undefined : LATEST_REPORT };
}

/** Writes the files of reportFiles(); returns the Markdown report's path. */
export async function writeReport(dir: string, report: Report): Promise<string> {
  await mkdir(dir, { recursive: true });
  const files = reportFiles(report);
  const md = toMarkdown(report);
  const mdPath = path.join(dir, files.md);
  await writeFile(path.join(dir, files.json), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(mdPath, md);
  if (files.latest) await writeFile(path.join(dir, files.latest), md);
  return mdPath;
}
