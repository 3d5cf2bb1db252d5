import type { ExportFormat } from '@tabgrid/protocol';
import { useState } from 'react';
import { describeError, downloadExport } from '../../lib/api';

const FORMATS: { format: ExportFormat; label: string; title: string }[] = [
  { format: 'coco', label: 'COCO', title: 'COCO detection JSON (images, annotations, categories)' },
  { format: 'csv', label: 'CSV', title: 'One row per detection, for spreadsheets' },
  { format: 'json', label: 'JSON', title: 'The job as the API returns it' },
];

/** Downloads of a job's results, fetched with the key (a plain link could not send it). */
export function ExportButtons({ jobId }: { jobId: string }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="exports" role="group" aria-label="Export results">
      <span
        className="small muted"
        title="Exports hold every detection of every photo: the score and class filters below change only what is shown here"
      >
        Export (all detections, filters not applied):
      </span>
      {FORMATS.map(({ format, label, title }) => (
        <button
          key={format}
          type="button"
          title={title}
          data-testid={`export-${format}`}
          onClick={() => {
            setError(null);
            downloadExport(jobId, format).catch((err: unknown) => setError(describeError(err)));
          }}
        >
          {label}
        </button>
      ))}
      {error && (
        <span className="error-text small" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
