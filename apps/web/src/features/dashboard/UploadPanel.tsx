import type { JobCreated } from '@tabgrid/protocol';
import { useRef, useState, type DragEvent } from 'react';
import { ApiRequestError, createJob } from '../../lib/api';

interface Props {
  onCreated: (created: JobCreated) => void;
}

/** File picker + drop zone; one POST /api/jobs per batch. */
export function UploadPanel({ onCreated }: Props) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<ApiRequestError | null>(null);
  const [lastInfo, setLastInfo] = useState<string | null>(null);
  const [isPublic, setIsPublic] = useState(false);

  async function upload(list: FileList | null) {
    const files = list ? Array.from(list) : [];
    if (files.length === 0) return;
    setBusy(true);
    setError(null);
    setLastInfo(null);
    try {
      const created = await createJob(files, isPublic);
      onCreated(created);
      setLastInfo(
        `Job ${created.id}: ${created.tasks.length} photo${created.tasks.length === 1 ? '' : 's'} queued.`,
      );
    } catch (err) {
      setError(err instanceof ApiRequestError ? err : new ApiRequestError(0, 'internal', String(err)));
    } finally {
      setBusy(false);
      if (inputRef.current) inputRef.current.value = '';
    }
  }

  function onDrop(ev: DragEvent<HTMLDivElement>) {
    ev.preventDefault();
    setDragging(false);
    void upload(ev.dataTransfer.files);
  }

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
        <p>Drop photos here, or</p>
        <label className="button primary">
          Choose photos…
          <input
            ref={inputRef}
            type="file"
            multiple
            accept="image/*"
            data-testid="file-input"
            disabled={busy}
            onChange={(ev) => void upload(ev.currentTarget.files)}
          />
        </label>
        {busy && <p className="muted">Uploading…</p>}
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
      {lastInfo && <div className="notice">{lastInfo}</div>}
      {error && (
        <div className="error-box" role="alert" data-testid="upload-error">
          <strong>
            Upload failed{error.status ? ` (HTTP ${error.status})` : ''}: {error.code}
          </strong>
          <div>{error.message}</div>
        </div>
      )}
    </div>
  );
}
