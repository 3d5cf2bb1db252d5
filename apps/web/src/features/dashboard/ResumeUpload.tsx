import type { JobCreated, Me, TaskView } from '@tabgrid/protocol';
import { useState } from 'react';
import { missingFrom, uploadInChunks } from './chunkedUpload';

interface Props {
  jobId: string;
  /** The photos the job has (names and digests). */
  tasks: readonly Pick<TaskView, 'name' | 'digest'>[];
  /** Photos its requester meant to send. */
  expected: number;
  limits: Me['limits'];
  onStored: (created: JobCreated) => void;
}

/**
 * An upload that stopped early (the tab closed, the network dropped): says how many photos
 * arrived of how many were meant to, and sends the rest from the same folder: photos the job
 * already has (by file name and bytes) are skipped, only the missing ones go.
 */
export function ResumeUpload({ jobId, tasks, expected, limits, onStored }: Props) {
  const [state, setState] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function resume(files: File[]) {
    const missing = await missingFrom(files, tasks);
    if (missing.length === 0) {
      setState('Every photo of that selection is already in the job.');
      return;
    }
    setBusy(true);
    setState(`Sending ${missing.length} missing photo${missing.length === 1 ? '' : 's'}…`);
    try {
      const out = await uploadInChunks(missing, {
        limits,
        isPublic: false,
        signal: new AbortController().signal,
        onProgress: () => undefined,
        onStored: (created) => onStored(created),
        jobId,
      });
      setState(
        out.error
          ? `Stopped again: ${out.error.message}`
          : `Sent ${out.stored} missing photo${out.stored === 1 ? '' : 's'}` +
              (out.rejected.length ? `; ${out.rejected.length} could not be sent.` : '.'),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="banner banner--warn" role="status" data-testid="upload-stopped">
      <strong>
        {tasks.length} of {expected} photos arrived; the upload stopped.
      </strong>{' '}
      Choose the same photos or folder again to send the rest (photos already in the job, the same name and
      the same file, are skipped).
      <div className="upload__pickers">
        <label className="button">
          Send the rest (folder)…
          <input
            ref={(el) => el?.setAttribute('webkitdirectory', '')}
            type="file"
            disabled={busy}
            data-testid="resume-folder-input"
            onChange={(ev) => void resume(Array.from(ev.currentTarget.files ?? []))}
          />
        </label>
        <label className="button">
          Send the rest (photos)…
          <input
            type="file"
            multiple
            accept="image/*"
            disabled={busy}
            data-testid="resume-file-input"
            onChange={(ev) => void resume(Array.from(ev.currentTarget.files ?? []))}
          />
        </label>
      </div>
      {state && <div className="small">{state}</div>}
    </div>
  );
}
