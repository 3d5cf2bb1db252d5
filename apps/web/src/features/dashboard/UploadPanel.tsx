import type { JobCreated, Me } from '@tabgrid/protocol';
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { uploadInChunks, type UploadOutcome } from './chunkedUpload';
import { droppedFiles } from './droppedFiles';

interface Props {
  limits: Me['limits'];
  /** After each stored request: `first` for the one that created the job. */
  onStored: (created: JobCreated, first: boolean) => void;
  /** Told when an upload starts and ends (the job cards then know it is still arriving). */
  onBusy?: (busy: boolean) => void;
  /** Whether a job has finished (its upload summary then goes after a moment). */
  isFinished?: (jobId: string) => boolean;
}

/** How long an upload's summary stays once its job has finished. */
const SUMMARY_AFTER_DONE_MS = 15_000;

const byPath = (a: File, b: File) =>
  (a.webkitRelativePath || a.name).localeCompare(b.webkitRelativePath || b.name);

/**
 * Files, a folder, or a drop (folders included) become one job, sent in requests of at most
 * `limits.maxFiles` files with overall progress and a cancel button. Bad files are listed
 * one by one while the good ones are stored (`?partial=1`).
 */
export function UploadPanel({ limits, onStored, onBusy, isFinished }: Props) {
  const filesRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  const abortRef = useRef<AbortController | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [dragging, setDragging] = useState(false);
  const [outcome, setOutcome] = useState<(UploadOutcome & { total: number }) | null>(null);
  const [isPublic, setIsPublic] = useState(false);
  const busy = progress !== null;

  // Closing or leaving the page now would lose the photos not sent yet: the browser asks first.
  useEffect(() => {
    onBusy?.(busy);
    if (!busy) return;
    const warn = (ev: BeforeUnloadEvent) => {
      ev.preventDefault();
      ev.returnValue = ''; // older browsers need it set
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [busy, onBusy]);

  async function upload(list: readonly File[]) {
    const files = [...list].sort(byPath);
    if (files.length === 0 || busy) return;
    const abort = new AbortController();
    abortRef.current = abort;
    setOutcome(null);
    setProgress(0);
    try {
      const result = await uploadInChunks(files, {
        limits,
        isPublic,
        signal: abort.signal,
        onProgress: setProgress,
        onStored,
      });
      setOutcome({ ...result, total: files.length });
    } finally {
      setProgress(null);
      abortRef.current = null;
      for (const input of [filesRef.current, folderRef.current]) if (input) input.value = '';
    }
  }

  function onDrop(ev: DragEvent<HTMLDivElement>) {
    ev.preventDefault();
    setDragging(false);
    void droppedFiles(ev.dataTransfer).then(upload);
  }

  // The summary (and its list of rejected files) is about an upload: it goes once the job is done.
  const finished = outcome?.jobId ? (isFinished?.(outcome.jobId) ?? false) : false;
  useEffect(() => {
    if (!finished) return;
    const timer = setTimeout(() => setOutcome(null), SUMMARY_AFTER_DONE_MS);
    return () => clearTimeout(timer);
  }, [finished]);

  const pct = Math.floor((progress ?? 0) * 100);
  return (
    <div className="upload">
      <div
        className={`dropzone${dragging ? ' dropzone--active' : ''}`}
        data-testid="drop-zone"
        onDragOver={(ev) => {
          ev.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop photos or a folder here, or</p>
        <div className="upload__pickers">
          <label className="button primary">
            Choose photos…
            <input
              ref={filesRef}
              type="file"
              multiple
              accept="image/*"
              data-testid="file-input"
              disabled={busy}
              onChange={(ev) => void upload(Array.from(ev.currentTarget.files ?? []))}
            />
          </label>
          <label className="button">
            Choose a folder…
            <input
              ref={(el) => {
                folderRef.current = el;
                el?.setAttribute('webkitdirectory', '');
              }}
              type="file"
              data-testid="folder-input"
              disabled={busy}
              onChange={(ev) => void upload(Array.from(ev.currentTarget.files ?? []))}
            />
          </label>
        </div>
        <p className="muted small">
          Up to {limits.maxFiles} photos go in one request; larger selections are sent in parts, as one job.
        </p>
        {busy && (
          <div className="upload__progress" data-testid="upload-progress">
            <progress max={100} value={pct} aria-label="Upload progress" />
            <span role="status">Uploading… {pct} %</span>
            <button type="button" onClick={() => abortRef.current?.abort()} data-testid="cancel-upload">
              Cancel
            </button>
          </div>
        )}
      </div>
      <p className="notice small" data-testid="privacy-notice">
        Photos are sent to volunteers’ browsers: the volunteer who processes a photo sees it.
      </p>
      <label className="small">
        <input
          type="checkbox"
          checked={isPublic}
          onChange={(ev) => setIsPublic(ev.currentTarget.checked)}
          data-testid="public-checkbox"
        />{' '}
        Public: show these photos and their results to everyone on the Live page
      </label>
      {outcome && <UploadSummary outcome={outcome} />}
    </div>
  );
}

function UploadSummary({ outcome }: { outcome: UploadOutcome & { total: number } }) {
  const { jobId, stored, rejected, cancelled, error, total } = outcome;
  return (
    <div data-testid="upload-summary">
      {jobId && (
        <div className="notice" role="status">
          Job <code>{jobId}</code>: {stored} of {total} photo{total === 1 ? '' : 's'} queued
          {cancelled ? ' (upload cancelled; the photos sent so far stay in the job)' : ''}.
        </div>
      )}
      {!jobId && cancelled && (
        <div className="notice" role="status">
          Upload cancelled; nothing was stored.
        </div>
      )}
      {error && (
        <div className="error-box" role="alert" data-testid="upload-error">
          <strong>
            Upload failed{error.status ? ` (HTTP ${error.status})` : ''}: {error.code}
          </strong>
          <div>{error.message}</div>
        </div>
      )}
      {rejected.length > 0 && (
        <div className="error-box" role="alert">
          <strong>
            {rejected.length} file{rejected.length === 1 ? ' was' : 's were'} not sent:
          </strong>
          <ul className="rejected" data-testid="rejected-files">
            {rejected.map((r, i) => (
              <li key={i} data-code={r.code}>
                <span className="rejected__name">{r.name}</span>: <code>{r.code}</code> — {r.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
