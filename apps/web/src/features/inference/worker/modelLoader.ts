import { sha256Hex } from '@tabgrid/detector';
import { InferenceError } from '../shared/errors';
import { deleteCachedModel, getCachedModel, putCachedModel } from './modelCache';

export interface LoadedModel {
  bytes: Uint8Array;
  source: 'network' | 'cache';
}

/**
 * Model bytes whose SHA-256 equals `sha256`: from IndexedDB when a verified
 * copy is there, else from the network (then cached).
 *
 * @throws InferenceError `model_mismatch` when the downloaded bytes hash differently,
 *   `model_unavailable` when the download fails.
 */
export async function loadModel(url: string, sha256: string): Promise<LoadedModel> {
  const expected = sha256.toLowerCase();
  const cached = await getCachedModel(expected);
  if (cached) {
    if ((await sha256Hex(cached)) === expected) return { bytes: new Uint8Array(cached), source: 'cache' };
    await deleteCachedModel(expected);
  }

  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (err) {
    throw new InferenceError('model_unavailable', `model download failed: ${String(err)}`);
  }
  if (!response.ok)
    throw new InferenceError('model_unavailable', `model download failed: HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  const actual = await sha256Hex(bytes);
  if (actual !== expected) {
    throw new InferenceError('model_mismatch', `model sha256 is ${actual}, server announced ${expected}`);
  }
  await putCachedModel(expected, url, bytes);
  return { bytes: new Uint8Array(bytes), source: 'network' };
}
