import fs from 'node:fs';
import path from 'node:path';
import type { UploadFile } from '@tabgrid/client';
import { CliError } from './cli-error';

/** A file named on the command line or found in a folder. */
export interface LocalFile {
  /** Absolute path. */
  path: string;
  /** The name sent to the server (the base name: names are labels, never paths). */
  name: string;
  size: number;
  mtimeMs: number;
}

const MIME: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

/**
 * The files of `args`: files as given, folders read recursively (hidden entries skipped), each
 * path once, sorted by path so that the same arguments always give the same order (chunks and
 * resumed uploads depend on it).
 */
export function collectFiles(args: readonly string[]): LocalFile[] {
  const found = new Map<string, LocalFile>();
  const add = (file: string, stat: fs.Stats) =>
    found.set(file, { path: file, name: path.basename(file), size: stat.size, mtimeMs: stat.mtimeMs });
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) add(full, fs.statSync(full));
    }
  };
  for (const arg of args) {
    const full = path.resolve(arg);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(full);
    } catch {
      throw new CliError(`${arg}: no such file or folder`);
    }
    if (stat.isDirectory()) walk(full);
    else if (stat.isFile()) add(full, stat);
    else throw new CliError(`${arg}: not a file or a folder`);
  }
  return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A local file ready to upload: its bytes are read from disk only while it is sent. */
export type DiskFile = UploadFile & { readonly local: LocalFile };

export async function openForUpload(file: LocalFile): Promise<DiskFile> {
  const blob = await fs.openAsBlob(file.path, { type: MIME[path.extname(file.name).toLowerCase()] ?? '' });
  return Object.assign(new File([blob], file.name, { type: blob.type }), { local: file });
}
