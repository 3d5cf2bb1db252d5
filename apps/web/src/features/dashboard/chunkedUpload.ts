import type { JobCreated, Me } from '@tabgrid/protocol';
import type { UploadOutcome } from '@tabgrid/client';
import { api } from '../../lib/api';
import { sendUpload } from './uploadRequest';

export { planChunks, type RejectedItem, type UploadOutcome } from '@tabgrid/client';

/**
 * Sends a selection as one job with the client's chunked upload (`@tabgrid/client`: requests of
 * `maxFiles`, create then append, `?partial=1`, retryable codes retried, cancel), each request
 * sent with XMLHttpRequest so that progress is the fraction of all bytes sent, across chunks.
 */
export function uploadInChunks(
  files: readonly File[],
  options: {
    limits: Me['limits'];
    isPublic: boolean;
    signal: AbortSignal;
    onProgress: (fraction: number) => void;
    /** After each stored chunk; `first` is true for the request that created the job. */
    onStored: (created: JobCreated, first: boolean) => void;
    /** Send the rest of an interrupted upload to this job instead of creating one. */
    jobId?: string;
  },
): Promise<UploadOutcome> {
  return api.uploadInChunks(files, { ...options, send: sendUpload });
}

/**
 * The files of a selection that a job does not have yet (an interrupted upload, sent again from
 * the same folder): matched by file name, the name the job keeps for each photo.
 */
export function missingFrom(files: readonly File[], namesInJob: Iterable<string>): File[] {
  const have = new Set(namesInJob);
  return files.filter((f) => !have.has(f.name));
}
