// End-of-test output for the load scenarios: a scenario that exports
// handleSummary() replaces k6's own text summary, and k6 has no built-in module
// to print it (only a remote jslib), so this prints a compact one (thresholds,
// then the metrics) and writes the scenario's JSON report.

/**
 * The part of k6's summary data used here (handleSummary's argument).
 * @typedef {{ type: string, contains?: string, values: Record<string, number>, thresholds?: Record<string, { ok: boolean }> }} SummaryMetric
 * @typedef {{ metrics: Record<string, SummaryMetric>, state?: { testRunDurationMs?: number } }} SummaryData
 */

/**
 * @param {number | undefined} value
 * @param {boolean} time
 */
export function fmt(value, time) {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (!time) return Number.isInteger(value) ? String(value) : value.toFixed(2);
  return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(value < 10 ? 2 : 0)}ms`;
}

/** @param {number | undefined} rate */
export const pct = (rate) => (rate === undefined ? '-' : `${(rate * 100).toFixed(2)}%`);

/** @param {SummaryMetric} m */
function describe(m) {
  const v = m.values;
  const time = m.contains === 'time';
  switch (m.type) {
    case 'counter':
      return `count=${fmt(v.count, false)} rate=${fmt(v.rate, false)}/s`;
    case 'rate':
      return `${pct(v.rate)} (${fmt(v.passes, false)} of ${fmt((v.passes ?? 0) + (v.fails ?? 0), false)})`;
    case 'gauge':
      return `value=${fmt(v.value, time)} min=${fmt(v.min, time)} max=${fmt(v.max, time)}`;
    default:
      return ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max']
        .filter((k) => k in v)
        .map((k) => `${k}=${fmt(v[k], time)}`)
        .join(' ');
  }
}

/**
 * The value a threshold expression looks at, e.g. `p(95)<1000` -> values['p(95)'].
 * @param {SummaryMetric} m
 * @param {string} expression
 */
function thresholdValue(m, expression) {
  const key = expression.split(/[<>=!]/)[0]?.trim() ?? '';
  const value = m.values[key === 'count' || key === 'rate' || key === 'value' || key in m.values ? key : ''];
  if (value === undefined) return '';
  return m.type === 'rate' ? `${key}=${pct(value)}` : `${key}=${fmt(value, m.contains === 'time')}`;
}

/**
 * Every threshold (except per-stage helpers, whose names contain `{stage:`), then
 * every metric with a value.
 * @param {string} title
 * @param {SummaryData} data
 * @param {string[]} extra lines printed after the metrics
 * @returns {{ text: string, failed: string[] }}
 */
function textSummary(title, data, extra) {
  const lines = ['', `  ${title}`, '', '  THRESHOLDS'];
  /** @type {string[]} */
  const failed = [];
  const names = Object.keys(data.metrics).sort();
  for (const name of names) {
    const m = /** @type {SummaryMetric} */ (data.metrics[name]);
    if (!m.thresholds || name.includes('{stage:')) continue;
    for (const [expression, { ok }] of Object.entries(m.thresholds)) {
      if (!ok) failed.push(`${name} ${expression}`);
      lines.push(`    ${ok ? 'ok  ' : 'FAIL'} ${name} '${expression}' ${thresholdValue(m, expression)}`);
    }
  }
  lines.push('', '  METRICS');
  const width = Math.max(...names.filter((n) => !n.includes('{stage:')).map((n) => n.length));
  for (const name of names) {
    if (name.includes('{stage:')) continue;
    lines.push(`    ${name.padEnd(width, '.')}: ${describe(/** @type {SummaryMetric} */ (data.metrics[name]))}`);
  }
  lines.push('', ...extra, '');
  if (failed.length > 0) lines.push(`  ${failed.length} threshold(s) failed: ${failed.join('; ')}`, '');
  return { text: lines.join('\n'), failed };
}

/**
 * handleSummary()'s answer: the text on stdout, the report as JSON in
 * SUMMARY_FILE (default loadtest/results/<scenario>-summary.json, relative to
 * the directory k6 runs in; the directory must exist).
 * @param {string} scenario
 * @param {SummaryData} data
 * @param {Record<string, unknown>} report scenario figures (settings, stages, knee, ...)
 * @param {string[]} extra lines for the text
 * @returns {Record<string, string>}
 */
export function summaryOutput(scenario, data, report, extra) {
  const { text, failed } = textSummary(`k6 ${scenario}`, data, extra);
  const file = __ENV.SUMMARY_FILE || `loadtest/results/${scenario}-summary.json`;
  const json = {
    scenario,
    finished_at: new Date().toISOString(),
    test_run_duration_ms: data.state?.testRunDurationMs,
    thresholds_failed: failed,
    ...report,
    metrics: data.metrics,
  };
  return { stdout: `${text}  summary: ${file}\n\n`, [file]: JSON.stringify(json, null, 2) };
}
