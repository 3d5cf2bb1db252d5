/**
 * Resuming an upload (the dashboard's "send the rest" and the CLI's re-run of `submit`): which
 * local files a job already holds. A file is the job's photo when the names match and, where the
 * server gives the photo's `digest` (the first 16 hex digits of the SHA-256 of its bytes as
 * uploaded), the file's bytes hash to the same digest: a different file under a name the job
 * already has is sent, not skipped. The digest is computed only for files whose name the job has.
 */

/** Hex digits of a photo's SHA-256 that the job view carries (`TaskView.digest`). */
export const DIGEST_HEX_DIGITS = 16;

/** The `digest` of bytes whose SHA-256 is `sha256Hex`. */
export const digestOf = (sha256Hex: string): string => sha256Hex.slice(0, DIGEST_HEX_DIGITS).toLowerCase();

/** What resuming needs of a job's photo (a `TaskView`). */
export interface PhotoInJob {
  name: string;
  /** Absent from servers before it was added: then names alone decide. */
  digest?: string;
}

/**
 * Whether `file` is the job's photo `task`: the same name, and the same bytes where the server
 * says which (`fileDigest` is asked only then).
 */
export function isSamePhoto(task: PhotoInJob, fileName: string, fileDigest: () => string): boolean {
  if (task.name !== fileName) return false;
  return task.digest === undefined || task.digest === fileDigest();
}

/**
 * The files of a selection that a job does not have yet, in their order. `sha256` hashes a file
 * (hex); it is called at most once per file, and only for files whose name the job has.
 */
export async function missingFromJob<F extends { name: string }>(
  files: readonly F[],
  tasks: readonly PhotoInJob[],
  sha256: (file: F) => Promise<string>,
): Promise<F[]> {
  const byName = new Map<string, PhotoInJob[]>();
  for (const t of tasks) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  const missing: F[] = [];
  for (const f of files) {
    const named = byName.get(f.name);
    if (!named) {
      missing.push(f);
      continue;
    }
    const digest = named.some((t) => t.digest !== undefined) ? digestOf(await sha256(f)) : '';
    if (!named.some((t) => isSamePhoto(t, f.name, () => digest))) missing.push(f);
  }
  return missing;
}
