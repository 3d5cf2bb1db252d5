import type { JobSummary, JobView, TaskView } from '@tabgrid/protocol';
import { memo, useMemo, useRef, useState, type ReactNode } from 'react';
import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList } from '../../components/DetectionList';
import { taskImageUrl } from '../../lib/api';
import { formatMs } from '../../lib/format';
import { ExportButtons } from './ExportButtons';
import { jobProgress } from './jobStore';
import { Lightbox } from './Lightbox';
import { altText, classCounts, INITIAL_FILTER, visibleDetections, type ResultFilter } from './resultFilter';
import { ResultFilters } from './ResultFilters';
import { useNearViewport, useTaskImage } from './useTaskImage';
import { useViewportWidth } from './useViewportWidth';
import { verificationLabel } from './verificationLabel';

/** Page, card and tile padding around a tile's canvas on a narrow screen (CSS px). */
const TILE_INSET = 100;
/** Tiles rendered at first, and added by each "Show more" (a job may have thousands). */
export const TILE_PAGE = 48;

/**
 * One photo. Memoized: a `job:changes` push replaces only the changed tasks' objects, so only their
 * tiles render again, not the whole gallery.
 */
const TaskTile = memo(function TaskTile({
  jobId,
  task,
  filter,
}: {
  jobId: string;
  task: TaskView;
  filter: ResultFilter;
}) {
  const shown = visibleDetections(task.detections, filter);
  const { submittedAt, completedAt } = task.timings;
  const ref = useRef<HTMLElement>(null);
  const image = useTaskImage(taskImageUrl(jobId, task.id), useNearViewport(ref));
  const [open, setOpen] = useState(false);
  const alt = altText(task.name, shown, task.status);
  const tileWidth = Math.min(320, useViewportWidth() - TILE_INSET);
  return (
    <figure
      ref={ref}
      className={`task task--${task.status}`}
      data-testid="task-tile"
      data-status={task.status}
    >
      <button
        type="button"
        className="task__open"
        onClick={() => setOpen(true)}
        aria-label={`Enlarge ${task.name}`}
        data-testid="open-lightbox"
      >
        <DetectionCanvas
          source={image}
          detections={shown}
          minScore={0}
          maxWidth={tileWidth}
          maxHeight={240}
          alt={alt}
          data-testid="task-canvas"
        />
      </button>
      <figcaption>
        <div className="task__title">
          <span title={task.name}>{task.name}</span>
          <span className={`badge badge--${task.status}`}>{task.status}</span>
        </div>
        {task.status === 'done' && submittedAt != null && completedAt != null && (
          <div className="muted small">done in {formatMs(completedAt - submittedAt)}</div>
        )}
        {task.status === 'done' && task.verification && (
          <div
            className="muted small"
            data-testid="task-verification"
            data-verification={task.verification}
            data-agreeing={task.agreeing}
          >
            {verificationLabel(task.verification, task.agreeing)}
          </div>
        )}
        {task.error && (
          <div className="error-text small">
            {task.error.code}: {task.error.message}
          </div>
        )}
        {task.status === 'done' && shown.length === 0 && (
          <div className="muted small">no objects at this score and these classes</div>
        )}
        <DetectionList detections={shown} />
      </figcaption>
      {open && (
        <Lightbox
          name={task.name}
          image={image}
          detections={shown}
          alt={alt}
          onClose={() => setOpen(false)}
        />
      )}
    </figure>
  );
});

/** The two confirm texts: each says which it is and what happens to the finished results. */
export function confirmText(action: 'cancel' | 'delete', done: number, unfinished: number): string {
  const results = `${done} finished result${done === 1 ? '' : 's'}`;
  if (action === 'cancel')
    return (
      `Cancel this job? Its ${unfinished} unfinished photo${unfinished === 1 ? '' : 's'} stop. ` +
      `The ${results} stay here, viewable and exportable.`
    );
  return (
    `Delete this job? ${unfinished > 0 ? `Its ${unfinished} unfinished photos are cancelled, ` : ''}` +
    `its photos are removed from the server and the job leaves this list: its ${results} can no ` +
    `longer be viewed or exported here. This cannot be undone.`
  );
}

const NO_TASKS: readonly TaskView[] = [];

/**
 * One job: from its whole view, or, until that arrives, from its line in the job list (header,
 * progress and actions at once; the photos follow).
 */
export function JobCard({
  job: view,
  summary,
  cancelledAt = null,
  onCancel,
  onDelete,
  children,
}: {
  job: JobView | undefined;
  /** The job's line in the job list, shown until `job` arrives (one of the two is given). */
  summary?: JobSummary;
  /** Shown under the header (e.g. an interrupted upload's "send the rest"). */
  children?: ReactNode;
  /** When its owner cancelled it (the card stays, with its results). */
  cancelledAt?: number | null;
  onCancel: () => Promise<void>;
  onDelete: () => Promise<void>;
}) {
  const job = view ?? {
    id: summary!.id,
    status: summary!.status,
    createdAt: summary!.createdAt,
    tasks: NO_TASKS as TaskView[],
  };
  const { done, failed, total } = view ? jobProgress(view) : summary!.tasks;
  const [filter, setFilter] = useState<ResultFilter>(INITIAL_FILTER);
  const [tiles, setTiles] = useState(TILE_PAGE);
  const counts = useMemo(() => classCounts(job.tasks, filter.minScore), [job.tasks, filter.minScore]);
  const pct = total ? Math.round(((done + failed) / total) * 100) : 0;
  const unfinished = cancelledAt === null && (job.status === 'queued' || job.status === 'running');
  const cancelledTasks = useMemo(
    () => job.tasks.filter((t) => t.error?.code === 'cancelled').length,
    [job.tasks],
  );

  return (
    <article
      className="job"
      data-testid="job-card"
      data-job-id={job.id}
      data-status={job.status}
      data-cancelled={cancelledAt !== null}
    >
      <header className="job__header">
        <div>
          <h2>
            Job <code>{job.id}</code>
          </h2>
          <div className="muted small">{new Date(job.createdAt).toLocaleString()}</div>
        </div>
        <div className="job__progress">
          <span
            className={`badge badge--${cancelledAt !== null ? 'failed' : job.status}`}
            data-testid="job-status"
          >
            {cancelledAt !== null ? 'cancelled' : job.status}
          </span>
          <span data-testid="job-progress">
            {done}/{total}
          </span>
          {failed - cancelledTasks > 0 && (
            <span className="error-text">{failed - cancelledTasks} failed</span>
          )}
        </div>
        <div className="job__actions">
          <ExportButtons jobId={job.id} />
          {unfinished && (
            <button
              type="button"
              className="link"
              data-testid="cancel-job"
              title="Stop the unfinished photos; the finished results stay"
              onClick={() => {
                if (confirm(confirmText('cancel', done, total - done - failed))) void onCancel();
              }}
            >
              Cancel
            </button>
          )}
          <button
            type="button"
            className="link"
            data-testid="delete-job"
            title="Remove the job and its photos from the server"
            onClick={() => {
              if (confirm(confirmText('delete', done, unfinished ? total - done - failed : 0)))
                void onDelete();
            }}
          >
            Delete
          </button>
        </div>
      </header>
      {children}
      {cancelledAt !== null && view && (
        <p className="muted small" data-testid="job-cancelled">
          Cancelled at {new Date(cancelledAt).toLocaleTimeString()}: {cancelledTasks} photo
          {cancelledTasks === 1 ? ' was' : 's were'} not processed; the {done} finished result
          {done === 1 ? '' : 's'} stay below.
        </p>
      )}
      <div
        className="progressbar"
        role="progressbar"
        aria-label="Photos processed"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div style={{ width: `${pct}%` }} />
      </div>
      {!view && (
        <p className="muted small" data-testid="tiles-loading">
          Loading its {total} photo{total === 1 ? '' : 's'}…
        </p>
      )}
      {view && <ResultFilters filter={filter} counts={counts} onChange={setFilter} />}
      <div className="tasks">
        {job.tasks.slice(0, tiles).map((t) => (
          <TaskTile key={t.id} jobId={job.id} task={t} filter={filter} />
        ))}
      </div>
      {job.tasks.length > tiles && (
        <button
          type="button"
          onClick={() => setTiles((n) => n + TILE_PAGE * 4)}
          data-testid="show-more-tiles"
        >
          Show {Math.min(TILE_PAGE * 4, job.tasks.length - tiles)} more of {job.tasks.length - tiles} photos
        </button>
      )}
    </article>
  );
}
