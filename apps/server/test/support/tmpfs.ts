import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A small tmpfs mounted for one test (root only), or why it could not be. */
export type Tmpfs = { dir: string; unmount(): void } | { dir: null; reason: string };

/** Mounts a tmpfs of `size` (e.g. '12m') on a fresh directory. */
export function mountTmpfs(size: string): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (mounted.error || mounted.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return {
      dir: null,
      reason: (mounted.error?.message ?? mounted.stderr).trim() || `exit ${mounted.status}`,
    };
  }
  return {
    dir,
    unmount() {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a filler file until the volume is full (ENOSPC). Returns its path. */
export function fillDisk(dir: string): string {
  const file = path.join(dir, 'filler.bin');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  // Small writes may still fit in the last partial block: fill those too.
  try {
    fs.appendFileSync(file, Buffer.alloc(4096, 1));
  } catch {
    /* full */
  }
  return file;
}

/** Every file under `dir` (relative paths), e.g. to find partial blobs or temporary files. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) =>
    fs.statSync(path.join(dir, f)).isFile(),
  );
}
