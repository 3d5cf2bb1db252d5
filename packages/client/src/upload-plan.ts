import { formatBytes, type Me } from '@tabgrid/protocol';

/** A file that was not stored, and why (a server error code, or one found before sending). */
export interface RejectedItem {
  name: string;
  code: string;
  message: string;
}

/** What planning needs to know of a file (a browser `File`, or the CLI's file on disk). */
export interface PlannedFile {
  readonly name: string;
  readonly size: number;
  /** MIME type if known ('' when not). */
  readonly type?: string;
}

/** Image types the detector reads; anything else in a folder is skipped before sending. */
const IMAGE = /\.(jpe?g|png|webp|gif|bmp|avif)$/i;

/**
 * Splits a selection into requests of at most `maxFiles` files, in order. Files the server would
 * refuse anyway (empty, over `maxFileBytes`, not an image such as a folder's `.DS_Store`) are
 * reported here and never sent.
 *
 * @example planChunks(files, (await client.me()).limits)
 */
export function planChunks<F extends PlannedFile>(
  files: readonly F[],
  limits: Me['limits'],
): { chunks: F[][]; skipped: RejectedItem[] } {
  const skipped: RejectedItem[] = [];
  const sendable: F[] = [];
  for (const f of files) {
    if (!(f.type ?? '').startsWith('image/') && !IMAGE.test(f.name))
      skipped.push({ name: f.name, code: 'unsupported_format', message: 'not an image file' });
    else if (f.size === 0) skipped.push({ name: f.name, code: 'empty_file', message: 'the file is empty' });
    else if (f.size > limits.maxFileBytes)
      skipped.push({
        name: f.name,
        code: 'file_too_large',
        message: `${formatBytes(f.size)}, over the limit of ${formatBytes(limits.maxFileBytes)} per file`,
      });
    else sendable.push(f);
  }
  const chunks: F[][] = [];
  for (let i = 0; i < sendable.length; i += limits.maxFiles)
    chunks.push(sendable.slice(i, i + limits.maxFiles));
  return { chunks, skipped };
}

/** Byte counts as people read them (shared with the server's messages). */
export { formatBytes };
