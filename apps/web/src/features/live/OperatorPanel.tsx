import type { LatencySummary, LiveStats } from '@tabgrid/protocol';
import { formatMs } from '../../lib/format';

/** The public reference network: acks within 1 s, results within 4 s. */
export const REFERENCE = { ackMs: 1000, resultMs: 4000 } as const;

function Figure({
  label,
  value,
  testId,
  hint,
}: {
  label: string;
  value: string | number;
  testId: string;
  hint?: string;
}) {
  return (
    <div className="figure">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
      {/* A second dd: a dl's group holds only dt and dd (axe: definition-list). */}
      {hint && <dd className="muted small">{hint}</dd>}
    </div>
  );
}

function LatencyRow({
  name,
  summary,
  referenceMs,
  testId,
}: {
  name: string;
  summary: LatencySummary;
  referenceMs: number;
  testId: string;
}) {
  const within = summary.p95 == null ? null : summary.p95 <= referenceMs;
  return (
    <tr>
      <th scope="row">{name}</th>
      <td data-testid={`${testId}-p50`}>{formatMs(summary.p50)}</td>
      <td data-testid={`${testId}-p95`}>{formatMs(summary.p95)}</td>
      <td>{summary.count}</td>
      <td className="reference" data-testid={`${testId}-reference`}>
        ≤ {formatMs(referenceMs)}{' '}
        {within == null ? (
          <span className="muted">no data</span>
        ) : within ? (
          <span className="ok">✓ within</span>
        ) : (
          <span className="bad">✗ slower</span>
        )}
      </td>
    </tr>
  );
}

/** `1 working · 2 paused`: what the online volunteers are doing (rule L11), if the server says. */
function volunteerHint(stats: LiveStats): string | undefined {
  const v = stats.volunteers;
  if (!v) return undefined;
  const parts = [`${v.working} working`];
  if (v.paused > 0) parts.push(`${v.paused} paused`);
  if (v.quarantined > 0) parts.push(`${v.quarantined} on probation`);
  return parts.join(' · ');
}

/** The big, plain figures at the top of the wall. */
export function KeyFigures({ stats }: { stats: LiveStats | null }) {
  if (!stats) return <p className="muted">Waiting for figures…</p>;
  return (
    <dl className="figures live__figures">
      <Figure
        label="Volunteers online"
        value={stats.volunteersOnline}
        testId="volunteers-online"
        hint={volunteerHint(stats)}
      />
      {stats.volunteers && (
        <Figure label="Able to take work" value={stats.volunteers.ready} testId="volunteers-ready" />
      )}
      <Figure label="Photos per minute" value={stats.resultsLastMinute} testId="results-last-minute" />
      <Figure label="Photos waiting" value={stats.tasks.queued} testId="tasks-queued" />
      <Figure label="Photos done" value={stats.tasks.done} testId="tasks-done" />
    </dl>
  );
}

/** Operator figures (server health, leases, percentiles), collapsed by default. */
export function OperatorPanel({ stats }: { stats: LiveStats | null }) {
  return (
    <details className="operator" data-testid="operator-panel">
      <summary>Operator figures</summary>
      {stats ? (
        <>
          <dl className="figures">
            <Figure label="Running" value={stats.tasks.running} testId="tasks-running" />
            <Figure label="Failed" value={stats.tasks.failed} testId="tasks-failed" />
            <Figure
              label="Inference p50"
              value={formatMs(stats.inferenceMs.p50)}
              testId="inference-p50"
              hint="reported by volunteers"
            />
            <Figure
              label="Requeued / min"
              value={stats.requeuedLastMinute}
              testId="requeued-last-minute"
              hint="leases that ended without a result"
            />
            <Figure
              label="Server loop lag p99"
              value={formatMs(stats.eventLoopLagMs.p99)}
              testId="event-loop-lag-p99"
              hint={`max ${formatMs(stats.eventLoopLagMs.max)}`}
            />
          </dl>
          <div className="table-scroll">
            <table className="latency">
              <caption>Latency over the last minute (reference: the public reference network)</caption>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">p50</th>
                  <th scope="col">p95</th>
                  <th scope="col">n</th>
                  <th scope="col">reference (p95)</th>
                </tr>
              </thead>
              <tbody>
                <LatencyRow
                  name="Ack (assign → ack)"
                  summary={stats.ackLatencyMs}
                  referenceMs={REFERENCE.ackMs}
                  testId="ack-latency"
                />
                <LatencyRow
                  name="Result (upload → result)"
                  summary={stats.resultLatencyMs}
                  referenceMs={REFERENCE.resultMs}
                  testId="result-latency"
                />
              </tbody>
            </table>
          </div>
        </>
      ) : (
        <p className="muted">Waiting for figures…</p>
      )}
    </details>
  );
}
