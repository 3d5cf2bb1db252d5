import { formatMs } from '../../lib/format';
import type { VolunteerSnapshot } from './volunteerController';

function Figure({ label, testId, children }: { label: string; testId: string; children: React.ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** The technical figures, behind a disclosure (the test ids are the automation's). */
export function DetailsPanel({ s }: { s: VolunteerSnapshot }) {
  const rt = s.runtime;
  return (
    <details className="card details">
      <summary>Technical details</summary>
      <dl className="figures">
        <Figure label="State" testId="volunteer-status">
          {s.status}
        </Figure>
        <Figure label="Results accepted (this visit)" testId="tasks-done">
          {s.tasksDone}
        </Figure>
        <Figure label="Failed (this visit)" testId="tasks-failed">
          {s.tasksFailed}
        </Figure>
        <Figure label="Tasks held (leases)" testId="tasks-held">
          {s.held}
        </Figure>
        <Figure label="Running now" testId="tasks-running">
          {s.running}
        </Figure>
        <Figure label="Last inference" testId="last-inference-ms">
          {formatMs(s.lastInferenceMs)}
        </Figure>
        <Figure label="Average inference" testId="avg-inference-ms">
          {formatMs(s.avgInferenceMs)}
        </Figure>
        <Figure label="Busy share, last minute (measured)" testId="busy-share">
          {s.busyShare === null ? '—' : `${Math.round(s.busyShare * 100)} % of the workers’ time`}
        </Figure>
        <Figure label="Backend" testId="backend">
          {rt ? `${rt.backend}${rt.simd ? ' + SIMD' : ''}` : '—'}
        </Figure>
        <Figure label="Inference workers" testId="pool-shape">
          {`${s.pool.workers} worker${s.pool.workers === 1 ? '' : 's'} × ${s.pool.threadsPerWorker} thread${s.pool.threadsPerWorker === 1 ? '' : 's'}`}
        </Figure>
        <Figure label="WASM threads per worker" testId="num-threads">
          {rt ? rt.numThreads : '—'}
        </Figure>
        <Figure label="Cross-origin isolated (needed for threads)" testId="cross-origin-isolated">
          {String(self.crossOriginIsolated)}
        </Figure>
        <Figure label="Model load" testId="model-load-ms">
          {formatMs(rt?.loadMs)}
        </Figure>
        <Figure label="Model from" testId="model-source">
          {rt?.modelSource ?? '—'}
        </Figure>
      </dl>
    </details>
  );
}
