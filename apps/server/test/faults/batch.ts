/**
 * Shared pieces of the real-process fault tests: the 50-photo batch, the
 * reference detections (the native detector, i.e. an undisturbed run), and
 * read-only queries on the server's database.
 */
import { readFile } from 'node:fs/promises';
import { parseLabels } from '@tabgrid/detector';
import { JobCreatedSchema, type Detection } from '@tabgrid/protocol';
import type Database from 'better-sqlite3';
import { createNativeDetector } from '@tabgrid/node-runner';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import { bearer } from '../support/harness';
import { readDb } from '../support/processes';

/** Agents run with one onnxruntime thread (2-core machine shared with the server); so does the reference. */
export const AGENT_THREADS = 1;

export interface Photo {
  /** Upload name: `NN-<sample>` so a task maps back to its sample image. */
  name: string;
  sample: string;
  bytes: Buffer;
}

/** `count` photos cycling through the sample images. */
export async function batchPhotos(count: number): Promise<Photo[]> {
  const samples = await Promise.all(
    sampleImages().map(async (s) => ({ name: s.name, bytes: await readFile(s.path) })),
  );
  return Array.from({ length: count }, (_, i) => {
    const s = samples[i % samples.length]!;
    return { name: `${String(i).padStart(2, '0')}-${s.name}`, sample: s.name, bytes: s.bytes };
  });
}

export const sampleOf = (taskName: string) => taskName.replace(/^\d+-/, '');

/** Detections of an undisturbed run on every sample image, by sample name. */
export async function referenceDetections(): Promise<Map<string, Detection[]>> {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  const native = await createNativeDetector(modelPath(), labels, { threads: AGENT_THREADS });
  try {
    const out = new Map<string, Detection[]>();
    for (const s of sampleImages()) out.set(s.name, await native.detect(await readFile(s.path)));
    return out;
  } finally {
    await native.close();
  }
}

/** POST /api/jobs; returns the job, or the status and body when it was not accepted. */
export async function uploadPhotos(
  url: string,
  photos: Photo[],
): Promise<{
  status: number;
  job: { id: string; tasks: { id: string; name: string }[] } | null;
  body: string;
}> {
  const form = new FormData();
  for (const p of photos)
    form.append('images', new Blob([new Uint8Array(p.bytes)], { type: 'image/jpeg' }), p.name);
  const res = await fetch(`${url}/api/jobs`, { method: 'POST', body: form, headers: bearer() });
  const body = await res.text();
  return {
    status: res.status,
    job: res.status === 201 ? JobCreatedSchema.parse(JSON.parse(body)) : null,
    body,
  };
}

export interface TaskRow {
  id: string;
  job_id: string;
  name: string;
  status: string;
  attempts: number;
  result_json: string | null;
  result_assignment_id: string | null;
  error_code: string | null;
}

export interface AssignmentRow {
  id: string;
  task_id: string;
  volunteer_id: string;
  status: string;
  assigned_at: number;
  ended_at: number | null;
  outcome: string | null;
}

export const tasks = (dataDir: string) =>
  readDb(dataDir, (db) => db.prepare<[], TaskRow>('SELECT * FROM tasks ORDER BY job_id, idx').all());

export const assignments = (dataDir: string) =>
  readDb(dataDir, (db) => db.prepare<[], AssignmentRow>('SELECT * FROM assignments ORDER BY rowid').all());

export function statusCounts(dataDir: string): Record<string, number> {
  return readDb(dataDir, (db: Database.Database) =>
    Object.fromEntries(
      db
        .prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status')
        .all()
        .map((r) => [r.status, r.n]),
    ),
  );
}

export const liveLeasesOf = (dataDir: string, volunteerId: string) =>
  readDb(dataDir, (db) =>
    db
      .prepare<[string], AssignmentRow>(
        "SELECT * FROM assignments WHERE volunteer_id = ? AND status IN ('offered', 'acked')",
      )
      .all(volunteerId),
  );

/**
 * Checks the end state of a batch: every task done once, with the reference
 * detections. Returns figures for the report and a list of problems (empty when fine).
 */
export function checkBatch(
  dataDir: string,
  reference: Map<string, Detection[]>,
): { problems: string[]; done: number; duplicates: number; maxAttempts: number } {
  const problems: string[] = [];
  const all = tasks(dataDir);
  const completed = new Map<string, AssignmentRow[]>();
  for (const a of assignments(dataDir)) {
    if (a.status === 'completed') completed.set(a.task_id, [...(completed.get(a.task_id) ?? []), a]);
  }
  let duplicates = 0;
  for (const t of all) {
    if (t.status !== 'done') problems.push(`${t.name}: ${t.status} ${t.error_code ?? ''}`);
    const c = completed.get(t.id) ?? [];
    if (c.length !== 1) {
      duplicates += Math.max(0, c.length - 1);
      problems.push(`${t.name}: ${c.length} completed assignments`);
    } else if (t.result_assignment_id !== c[0]!.id) {
      problems.push(`${t.name}: result is not from its completed assignment`);
    }
    const expected = reference.get(sampleOf(t.name));
    const actual = t.result_json ? (JSON.parse(t.result_json) as Detection[]) : null;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`${t.name}: detections differ from the reference`);
    }
  }
  return {
    problems,
    done: all.filter((t) => t.status === 'done').length,
    duplicates,
    maxAttempts: Math.max(0, ...all.map((t) => t.attempts)),
  };
}
