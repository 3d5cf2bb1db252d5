import { TabgridError, formatBytes, type RejectedFile } from '@tabgrid/protocol';
import type {} from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { ServerConfig } from '../config';
import type { IncomingFile } from '../storage/blob-store';
import type { NewTask } from '../store/records';
import { validateImage } from '../validation/image';

/** A file of an upload that passed every check, on disk, ready to be stored. */
export interface GoodFile {
  file: IncomingFile;
  task: NewTask;
}

/** Where the files of an upload go while it is read: temporary files beside the blobs. */
export interface UploadSink {
  /** Streams one file to disk, hashed and counted (`onChunk` may throw to stop it). */
  receive(source: AsyncIterable<Buffer>, onChunk?: (bytes: number) => void): Promise<IncomingFile>;
  discard(files: IncomingFile[]): Promise<void>;
}

export interface ReadUpload {
  good: GoodFile[];
  /** Files left out (only with `partial`; without it the first bad file throws). */
  rejected: RejectedFile[];
  /** The error of the first rejected file (its HTTP status included), or null. */
  firstError: TabgridError | null;
  /** The `public` form field. */
  isPublic: boolean;
  /** The `callbackUrl` form field as sent (checked by the route, webhooks/callback-url.ts), or null. */
  callbackUrl: string | null;
  /** The good files' temporary files (bad ones are removed at once): the caller discards them once done. */
  received: IncomingFile[];
}

type Limits = Pick<ServerConfig, 'maxFileBytes' | 'maxPixels'>;

/** Client file names are labels only: never paths. */
export function checkFileName(name: string, index: number): string {
  if (name === '') return `image-${index + 1}`;
  if (/[/\\]/.test(name) || name.includes('\0') || name === '.' || name === '..') {
    throw new TabgridError('invalid_file_name', 'a file name may not contain path separators', 400);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name) || name.length > 255) {
    throw new TabgridError('invalid_file_name', 'the file name is too long or has control characters', 400);
  }
  return name;
}

/** The `public` form field: on for `true`, `1`, `on` (a checked checkbox), `yes`. */
const truthy = (value: unknown) => typeof value === 'string' && /^(true|1|on|yes)$/i.test(value.trim());

/** A label for a rejected file that is safe to echo back (never a path, never control characters). */
const safeName = (name: string | undefined, index: number) =>
  // eslint-disable-next-line no-control-regex
  (name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255) || `image-${index + 1}`;

/**
 * Reads a multipart upload, one file at a time, each streamed to a temporary file (hashed and
 * counted on the way; at most one chunk of it is in memory), and validates every file from disk
 * (format, decodability, pixel count). Nothing is stored here. Without `partial` the first bad
 * file throws its TabgridError (the request is all-or-nothing); with `partial` bad files are
 * listed in `rejected` with the same code and message. Request-level faults (not multipart, a
 * part not named `images`, too many files) always throw. Whatever throws, every temporary file
 * is removed; on success the caller removes them (`received`) once the good ones are stored.
 *
 * An oversized file is cut off at once (its stream destroyed) unless `partial` is set and the
 * body's length was declared: then the rest of it is drained so that the next files can be read.
 */
export async function readUpload(
  request: FastifyRequest,
  limits: Limits,
  options: { partial: boolean; lengthDeclared: boolean },
  sink: UploadSink,
  /** Sees every received chunk's size before it is written; may throw (a byte budget). */
  onChunk?: (bytes: number) => void,
): Promise<ReadUpload> {
  const received: IncomingFile[] = [];
  try {
    return await read(request, limits, options, sink, received, onChunk);
  } catch (err) {
    await sink.discard(received);
    throw err;
  }
}

async function read(
  request: FastifyRequest,
  limits: Limits,
  options: { partial: boolean; lengthDeclared: boolean },
  sink: UploadSink,
  received: IncomingFile[],
  onChunk?: (bytes: number) => void,
): Promise<ReadUpload> {
  const { partial } = options;
  const good: GoodFile[] = [];
  const rejected: RejectedFile[] = [];
  let isPublic = false;
  let callbackUrl: string | null = null;
  let index = 0;
  const first: { index: number; error: TabgridError | null } = { index: Infinity, error: null };

  // A bad file's reason in plain words: alone in its `rejected` entry (which names the file), after
  // the file's name where it is the whole request's error ("huge.png: the photo is 60 megapixels…").
  const reject = (i: number, name: string | undefined, err: unknown) => {
    if (!(err instanceof TabgridError)) throw err;
    const named = new TabgridError(err.code, `${safeName(name, i)}: ${err.message}`, err.status);
    if (!partial) throw named;
    if (i < first.index) Object.assign(first, { index: i, error: named });
    rejected.push({ index: i, name: safeName(name, i), code: err.code, message: err.message });
  };

  // Past the size limit busboy discards the rest of a file but ends its stream only at the next
  // boundary. Unless the body is bounded (declared length) and the next files are wanted, stop
  // right there (the stream is destroyed: reading on would wait for a possibly endless body).
  const drain = partial && options.lengthDeclared;
  // preservePath: busboy would otherwise cut "../x.jpg" down to "x.jpg" before checkFileName sees it.
  // (`throwFileSizeLimit` is read per call at run time; the types list it only for files().)
  const partOptions = { preservePath: true, throwFileSizeLimit: !drain };
  for await (const part of request.parts(partOptions)) {
    if (part.type !== 'file') {
      if (part.fieldname === 'public') isPublic = truthy(part.value);
      if (part.fieldname === 'callbackUrl') callbackUrl = String(part.value);
      continue;
    }
    if (part.fieldname !== 'images') {
      part.file.resume();
      throw new TabgridError(
        'bad_request',
        `unexpected file part "${part.fieldname.slice(0, 64)}"; name it "images"`,
        400,
      );
    }
    const i = index++;
    let name: string;
    try {
      name = checkFileName(part.filename ?? '', i);
    } catch (err) {
      part.file.resume();
      reject(i, part.filename, err);
      continue;
    }
    let overLimit = false;
    part.file.once('limit', () => {
      overLimit = true;
      if (!drain) part.file.destroy();
    });
    const tooLarge = () =>
      new TabgridError(
        'file_too_large',
        `the file is over the limit of ${formatBytes(limits.maxFileBytes)}`,
        413,
      );
    let file: IncomingFile;
    try {
      file = await sink.receive(part.file as AsyncIterable<Buffer>, onChunk);
    } catch (err) {
      if (overLimit || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        const e = tooLarge();
        throw new TabgridError(e.code, `${name}: ${e.message}`, e.status);
      }
      throw err;
    }
    received.push(file);
    /** A bad file: its temporary file goes at once (a partial upload goes on with the next). */
    const refuse = async (err: unknown) => {
      received.pop();
      await sink.discard([file]);
      reject(i, name, err);
    };
    if (overLimit || part.file.truncated) {
      await refuse(tooLarge());
      continue;
    }
    // Validated at once, from disk: all-or-nothing stops at the first bad file.
    try {
      const image = await validateImage(file.size === 0 ? Buffer.alloc(0) : file.path, limits.maxPixels);
      good.push({
        file,
        task: { name, imageSha256: '', mime: image.mime, width: image.width, height: image.height },
      });
    } catch (err) {
      await refuse(err);
    }
  }
  if (index === 0) throw new TabgridError('no_images', 'no file parts named "images" in the request', 400);
  rejected.sort((a, b) => a.index - b.index);
  return { good, rejected, firstError: first.error, isPublic, callbackUrl, received };
}
