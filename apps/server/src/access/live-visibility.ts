import type { LiveResult } from '@tabgrid/protocol';
import type { StoredResult } from '../store/views';
import type { ImageSigner } from './image-signer';

/**
 * What one viewer of `/live` gets for a stored result (PROTOCOL.md rules L2-L4):
 * the owner gets its job and task ids; everybody else (public jobs only) gets neither,
 * just an opaque id. Both get a signed, expiring image URL instead of the API route.
 */
export function visibleResult(stored: StoredResult, own: boolean, signer: ImageSigner): LiveResult {
  const { jobId, taskId, ...rest } = stored;
  const shown = { ...rest, id: signer.resultId(taskId), own, imageUrl: signer.imageUrl(taskId) };
  return own ? { ...shown, jobId, taskId } : shown;
}
