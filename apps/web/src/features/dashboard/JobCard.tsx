import type { JobView, TaskView } from '@tabgrid/protocol';
import { useState } from 'react';
import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList, SHOWN_MIN_SCORE, shownDetections } from '../../components/DetectionList';
import { ApiRequestError, fetchJob, taskImageUrl } from '../../lib/api';
import { formatMs } from '../../lib/format';
import { jobProgress } from './jobStore';
import { useTaskImage } from './useTaskImage';

function TaskTile({ jobId, task }: { jobId: string; task: TaskView }) {
  const shown = shownDetections(task.detections);
  const { submittedAt, completedAt } = task.timings;
  const image = useTaskImage(taskImageUrl(jobId, task.id));
  return (
    <figure className={`task task--${task.status}`} data-testid="task-tile" data-status={task.status}>
      <DetectionCanvas
        source={image}
        detections={task.detections}
        minScore={SHOWN_MIN_SCORE}
        maxWidth={320}
        maxHeight={240}
      />
      <figcaption>
        <div className="task__title">
          <span title={task.name}>{task.name}</span>
          <span className={`badge badge--${task.status}`}>{task.status}</span>
        </div>
        {task.status === 'done' && submittedAt != null && completedAt != null && (
          <div className="muted small">done in {formatMs(completedAt - submittedAt)}</div>
        )}
        {task.error && (
          <div className="error-text small">
            {task.error.code}: {task.error.message}
          </div>
        )}
        {task.status === 'done' && shown.length === 0 && (
          <div className="muted small">no objects ≥ {SHOWN_MIN_SCORE}</div>
        )}
        <DetectionList detections={shown} />
      </figcaption>
    </figure>
  );
}

async function downloadJson(id: string): Promise<void> {
  const view = await fetchJob(id);
  const url = URL.createObjectURL(new Blob([JSON.stringify(view, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `tabgrid-job-${id}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function JobCard({ job, onDelete }: { job: JobView; onDelete: () => Promise<void> }) {
  const { done, failed, total } = jobProgress(job);
  const [error, setError] = useState<string | null>(null);
  const pct = total ? Math.round(((done + failed) / total) * 100) : 0;

  return (
    <article className="job" data-testid="job-card" data-job-id={job.id} data-status={job.status}>
      <header className="job__header">
        <div>
          <h2>
            Job <code>{job.id}</code>
          </h2>
          <div className="muted small">{new Date(job.createdAt).toLocaleString()}</div>
        </div>
        <div className="job__progress">
          <span className={`badge badge--${job.status}`} data-testid="job-status">
            {job.status}
          </span>
          <span data-testid="job-progress">
            {done}/{total}
          </span>
          {failed > 0 && <span className="error-text">{failed} failed</span>}
        </div>
        <div className="job__actions">
          <button
            type="button"
            data-testid="download-json"
            onClick={() => {
              setError(null);
              downloadJson(job.id).catch((err: unknown) =>
                setError(err instanceof ApiRequestError ? `${err.code}: ${err.message}` : String(err)),
              );
            }}
          >
            Download JSON
          </button>
          <button
            type="button"
            className="link"
            data-testid="delete-job"
            title="Cancel unfinished photos, keep the results, delete the photos from the server"
            onClick={() => {
              const unfinished = job.tasks.some((t) => t.status === 'queued' || t.status === 'running');
              const what = unfinished ? 'Cancel this job and delete its photos' : 'Delete this job’s photos';
              if (confirm(`${what} from the server?`)) void onDelete();
            }}
          >
            {job.status === 'queued' || job.status === 'running' ? 'Cancel & delete' : 'Delete'}
          </button>
        </div>
      </header>
      <div className="progressbar" aria-label={`${pct}%`}>
        <div style={{ width: `${pct}%` }} />
      </div>
      {error && <div className="error-box">{error}</div>}
      <div className="tasks">
        {job.tasks.map((t) => (
          <TaskTile key={t.id} jobId={job.id} task={t} />
        ))}
      </div>
    </article>
  );
}
