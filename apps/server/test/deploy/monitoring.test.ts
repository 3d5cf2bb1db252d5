/**
 * Dashboards and alerts (issue 19): `deploy/prometheus/alerts.yml` passes `promtool check rules`
 * and its unit tests (`deploy/prometheus/alerts.test.yml`, `promtool test rules`), alerts on the
 * five conditions the issue names, and every metric that it or the Grafana dashboard
 * (`deploy/grafana/tabgrid.json`) queries is one a real server's `/metrics` exposes.
 *
 * promtool comes with Debian's `prometheus` package (`.ci/run` installs it); without it the
 * promtool checks are skipped with a message, the metric-name checks still run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, bearer, startTestServer, type TestServer } from '../support/harness';

const ALERTS = path.join(REPO_ROOT, 'deploy/prometheus/alerts.yml');
const ALERT_TESTS = path.join(REPO_ROOT, 'deploy/prometheus/alerts.test.yml');
const DASHBOARD = path.join(REPO_ROOT, 'deploy/grafana/tabgrid.json');

const promtool = (() => {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || null : null;
})();
if (!promtool)
  console.warn(
    '[monitoring] promtool checks skipped: no promtool (apt-get install prometheus; .ci/run installs it)',
  );

/** Metric names in a PromQL text: tabgrid_*, and the default process_* / nodejs_* metrics. */
function metricNames(promql: string): string[] {
  return [...promql.matchAll(/\b((?:tabgrid|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

/** A histogram's series name → its family (`_bucket`, `_sum`, `_count`). */
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

function dashboardExprs(): string[] {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { definition?: string }[] };
  };
  return [
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dash.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

describe.skipIf(!promtool)('promtool', () => {
  it('accepts deploy/prometheus/alerts.yml', () => {
    const run = spawnSync(promtool!, ['check', 'rules', ALERTS], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SUCCESS: 5 rules found/);
  });

  it('passes the rules unit tests (deploy/prometheus/alerts.test.yml)', () => {
    const run = spawnSync(promtool!, ['test', 'rules', ALERT_TESTS], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

describe('alerts and dashboard against a real server', () => {
  let server: TestServer;
  let exposed: Set<string>;

  beforeAll(async () => {
    server = await startTestServer({ verification: true });
    const res = await fetch(`${server.url}/metrics`, { headers: bearer() });
    expect(res.status).toBe(200);
    const body = await res.text();
    exposed = new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('alerts on the five conditions of issue 19', () => {
    const text = fs.readFileSync(ALERTS, 'utf8');
    const alerts = [
      ...text.matchAll(/- alert: (\S+)\n\s+(?:#.*\n\s+)*expr: ([\s\S]*?)\n\s+(?:for|labels):/g),
    ].map((m) => ({ name: m[1]!, expr: m[2]! }));
    const expr = (name: string) => alerts.find((a) => a.name === name)?.expr ?? '';
    expect(alerts.map((a) => a.name).sort()).toEqual([
      'TabgridAckLatencyHigh',
      'TabgridBackgroundErrors',
      'TabgridDependencyDown',
      'TabgridQueueGrowingNoVolunteers',
      'TabgridRefereeBudgetExhausted',
    ]);
    expect(expr('TabgridBackgroundErrors')).toContain('tabgrid_background_errors_total');
    expect(expr('TabgridDependencyDown')).toContain('tabgrid_dependency_up == 0');
    expect(expr('TabgridQueueGrowingNoVolunteers')).toMatch(
      /tabgrid_queue_depth[\s\S]*tabgrid_volunteers_online/,
    );
    expect(expr('TabgridAckLatencyHigh')).toMatch(
      /histogram_quantile\(0\.99,.*tabgrid_ack_latency_seconds_bucket.*\) > 1/,
    );
    expect(expr('TabgridRefereeBudgetExhausted')).toContain(
      'tabgrid_referee_runs_total{outcome="over_budget"}',
    );
  });

  it('every metric in alerts.yml is exposed on /metrics', () => {
    const used = new Set(metricNames(fs.readFileSync(ALERTS, 'utf8')).map(family));
    expect(used.size).toBeGreaterThanOrEqual(6);
    expect([...used].filter((n) => !exposed.has(n))).toEqual([]);
  });

  it('every metric in the Grafana dashboard is exposed on /metrics', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap(metricNames).map(family));
    expect([...used].filter((n) => !exposed.has(n))).toEqual([]);
    // ...and the dashboard shows every tabgrid_* family the server exposes.
    expect([...exposed].filter((n) => n.startsWith('tabgrid_') && !used.has(n))).toEqual([]);
  });
});
