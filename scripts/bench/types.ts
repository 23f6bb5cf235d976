import type { BenchCluster, BenchDatabase } from './cluster.ts';
import type { BenchOptions, SectionName } from './options.ts';
import type { Spread } from './stats.ts';

/** One line of the summary table. The ratio is always project / bare. */
export interface Row {
  figure: string;
  unit: string;
  project?: Spread;
  bare?: Spread;
  /** As printed, e.g. "ratio >= 0.8" or "p50 <= 3 ms". */
  target?: string;
  /** Judged on the medians; undefined when there is no target or no figure. */
  met?: boolean;
}

export interface SectionResult {
  name: SectionName;
  rows: Row[];
  /** Markdown of the section's detail (tables per round, per step...). */
  detail: string;
  /** Raw numbers for the JSON report. */
  data: unknown;
}

export interface BenchContext {
  opts: BenchOptions;
  db: BenchDatabase;
  cluster: BenchCluster;
  say: (line: string) => void;
}

export const ratio = (row: Row): number => (row.project && row.bare ? row.project.median / row.bare.median : Number.NaN);
