import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList, shownDetections } from '../../components/DetectionList';
import { formatMs } from '../../lib/format';
import { useVolunteer } from './useVolunteer';
import type { VolunteerStatus } from './volunteerController';

const STATUS_TEXT: Record<VolunteerStatus, string> = {
  stopped: 'Not running. Press Start to lend this tab’s CPU.',
  connecting: 'Connecting to the coordinator…',
  loading: 'Loading the model…',
  idle: 'Ready, waiting for photos.',
  working: 'Detecting objects…',
  paused: 'Paused: finishing held work, taking no new tasks.',
  error: 'Stopped because of an error.',
};

export function VolunteerPage() {
  const { controller, snapshot: s } = useVolunteer();
  const rt = s.runtime;
  const shown = s.current ? shownDetections(s.current.detections) : [];

  return (
    <section className="page volunteer">
      <header className="page__header">
        <h1>Volunteer</h1>
        <p className="muted">
          This tab runs YOLOX-Nano object detection on photos that others upload. Nothing leaves your machine
          except the boxes and labels. You will see the photos you process.
        </p>
      </header>

      <div className="toolbar">
        {s.started ? (
          <button type="button" onClick={() => controller.stop()} data-testid="stop-button">
            Stop
          </button>
        ) : (
          <button
            type="button"
            className="primary"
            onClick={() => controller.start()}
            data-testid="start-button"
          >
            Start
          </button>
        )}
        <button
          type="button"
          disabled={!s.started}
          onClick={() => controller.setPaused(!s.paused)}
          data-testid="pause-button"
        >
          {s.paused ? 'Resume' : 'Pause'}
        </button>
        <span className={`status status--${s.status}`} data-testid="volunteer-status">
          {s.status}
        </span>
        <span className="muted">{STATUS_TEXT[s.status]}</span>
      </div>

      {s.error && (
        <div className="error-box" role="alert" data-testid="volunteer-error">
          {s.error}
        </div>
      )}
      {s.notice && !s.error && <div className="notice">{s.notice}</div>}

      <dl className="figures">
        <div>
          <dt>You appear as</dt>
          <dd data-testid="display-name">{s.displayName ?? '—'}</dd>
        </div>
        <div>
          <dt>Tasks done</dt>
          <dd data-testid="tasks-done">{s.tasksDone}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-testid="tasks-failed">{s.tasksFailed}</dd>
        </div>
        <div>
          <dt>Held</dt>
          <dd data-testid="tasks-held">{s.held}</dd>
        </div>
        <div>
          <dt>Last inference</dt>
          <dd data-testid="last-inference-ms">{formatMs(s.lastInferenceMs)}</dd>
        </div>
        <div>
          <dt>Average inference</dt>
          <dd data-testid="avg-inference-ms">{formatMs(s.avgInferenceMs)}</dd>
        </div>
        <div>
          <dt>Backend</dt>
          <dd data-testid="backend">{rt ? `${rt.backend}${rt.simd ? ' + SIMD' : ''}` : '—'}</dd>
        </div>
        <div>
          <dt>Workers</dt>
          <dd data-testid="pool-shape">
            {rt
              ? `${rt.workers} worker${rt.workers === 1 ? '' : 's'} × ${rt.numThreads} thread${rt.numThreads === 1 ? '' : 's'}`
              : '—'}
          </dd>
        </div>
        <div>
          <dt>Threads per worker</dt>
          <dd data-testid="num-threads">{rt ? rt.numThreads : '—'}</dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd data-testid="tasks-running">{s.running}</dd>
        </div>
        <div>
          <dt>Cross-origin isolated</dt>
          <dd data-testid="cross-origin-isolated">{String(self.crossOriginIsolated)}</dd>
        </div>
        <div>
          <dt>Model load</dt>
          <dd data-testid="model-load-ms">{formatMs(rt?.loadMs)}</dd>
        </div>
        <div>
          <dt>Model from</dt>
          <dd data-testid="model-source">{rt?.modelSource ?? '—'}</dd>
        </div>
      </dl>

      <div className="volunteer__work">
        <DetectionCanvas
          source={s.current?.url ?? null}
          detections={s.current?.detections ?? []}
          imageWidth={s.current?.width}
          imageHeight={s.current?.height}
          maxWidth={640}
          maxHeight={480}
          data-testid="volunteer-canvas"
        />
        <div className="volunteer__meta">
          <h2>{s.current ? s.current.name : 'No photo yet'}</h2>
          {s.current && (
            <p className="muted">
              {s.current.running ? 'running…' : `done in ${formatMs(s.current.inferenceMs)}`} · volunteer{' '}
              {s.displayName ?? '…'}
            </p>
          )}
          <DetectionList detections={shown} />
        </div>
      </div>
    </section>
  );
}
