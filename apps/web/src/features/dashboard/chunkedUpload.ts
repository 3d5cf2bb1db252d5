import type { JobCreated, Me } from '@tabgrid/protocol';
import { missingFromJob, type PhotoInJob, type UploadOutcome } from '@tabgrid/client';
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

/** The SHA-256 of a file's bytes (hex), with the browser's own digest. */
async function sha256OfFile(file: Blob): Promise<string> {
  const hash = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The files of a selection that a job does not have yet (an interrupted upload, sent again from
 * the same folder): matched by file name and the digest of the bytes (PROTOCOL.md H7, the rule
 * the CLI's resume uses too), so a different photo under a name the job has is sent. Where the
 * page has no `crypto.subtle` (plain HTTP on a non-local address), names alone decide.
 */
export function missingFrom(files: readonly File[], tasksInJob: readonly PhotoInJob[]): Promise<File[]> {
  const canHash = typeof crypto !== 'undefined' && crypto.subtle !== undefined;
  const tasks = canHash ? tasksInJob : tasksInJob.map(({ name }) => ({ name }));
  return missingFromJob(files, tasks, sha256OfFile);
}
