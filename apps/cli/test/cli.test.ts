/**
 * The `tabgrid` CLI (issue 19) run as a user runs it, in its own process from the checkout, against
 * the real server: a folder of 150 varied photos detected by real agents (onnxruntime-node, the
 * real model) and exported as COCO; an interrupted submit resumed without sending any photo twice;
 * the other commands; and failures as one clear line with a non-zero exit, never a stack trace.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CocoExportSchema, JobListSchema, JobViewSchema } from '@tabgrid/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/src/agent';
import { bearer, startTestServer, TEST_KEYS, type TestServer } from '../../server/test/support/harness';
import { startHonestAgent } from '../../server/test/support/honest-agent';
import { freePort } from '../../server/test/support/processes';
import { runCli, uploadCutter, writePhotos } from './support/cli';

const servers: TestServer[] = [];
const agents: Agent[] = [];
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `tabgrid-cli-${prefix}-`));

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(overrides);
  servers.push(s);
  return s;
}

const api = async (s: TestServer, url: string) => {
  const res = await fetch(`${s.url}${url}`, { headers: bearer() });
  expect(res.status, url).toBe(200);
  return res;
};

/** The key's jobs on `s`. */
const jobsOf = async (s: TestServer) =>
  JobListSchema.parse(await (await api(s, '/api/jobs?limit=100')).json()).jobs;

/** A trace printed by Node or by an uncaught error ("    at fn (file.ts:12:3)"). */
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

describe('tabgrid submit', () => {
  it('sends a folder of 150 photos as one job and, with --wait, writes the same COCO as the API', async () => {
    const s = await server({ maxFiles: 40 }); // 4 requests
    const dir = tmp('photos');
    const files = await writePhotos(dir, 150, 19);
    await Promise.all([startHonestAgent(s.url, agents), startHonestAgent(s.url, agents)]);
    const out = path.join(tmp('out'), 'x.json');

    const run = runCli(
      ['submit', dir, '--wait', '--format', 'coco', '--out', out],
      { TABGRID_KEY: TEST_KEYS.owner.key, TABGRID_URL: s.url, TABGRID_STATE_DIR: tmp('state') },
      'npx',
    );
    const code = await run.exited;
    expect(code, run.stderr()).toBe(0);

    const [job] = await jobsOf(s);
    expect(job!.tasks.total).toBe(150);
    expect(run.stdout().trim()).toBe(job!.id);
    const view = JobViewSchema.parse(await (await api(s, `/api/jobs/${job!.id}`)).json());
    expect(view.status).toBe('done');
    expect(new Set(view.tasks.map((t) => t.name))).toEqual(new Set(files.map((f) => path.basename(f))));

    const written = CocoExportSchema.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
    const fromApi = CocoExportSchema.parse(
      await (await api(s, `/api/jobs/${job!.id}/export?format=coco`)).json(),
    );
    // Equal but for the moment each export was made.
    expect({ ...written, info: { ...written.info, date_created: '' } }).toEqual({
      ...fromApi,
      info: { ...fromApi.info, date_created: '' },
    });
    expect(written.images).toHaveLength(150);
    expect(written.annotations.length).toBeGreaterThan(0);
  }, 300_000);

  it('interrupted after the server stored a chunk but before the CLI heard of it: run again, no photo is sent twice', async () => {
    const s = await server({ maxFiles: 5 });
    const dir = tmp('resume');
    const files = await writePhotos(dir, 23, 20); // 5 requests: 5, 5, 5, 5, 3
    const cutter = await uploadCutter(s.url);
    const env = {
      TABGRID_KEY: TEST_KEYS.owner.key,
      TABGRID_URL: cutter.url,
      TABGRID_STATE_DIR: tmp('state'),
    };
    try {
      const held = cutter.holdAt(3);
      const first = runCli(['submit', dir], env);
      await held; // the server stored the 3rd request's photos; the CLI waits for an answer that never comes
      first.proc.kill('SIGKILL');
      await first.exited;
      const [job] = await jobsOf(s);
      expect(job!.tasks.total).toBe(15);
      expect(cutter.uploads).toBe(3);

      const second = runCli(['submit', dir], env);
      expect(await second.exited, second.stderr()).toBe(0);
      expect(second.stderr()).toContain(`resuming job ${job!.id}: 15 of 23 photos already there`);
      expect(second.stdout().trim()).toBe(job!.id);
      expect(cutter.uploads).toBe(3 + 2); // the 8 others, in 2 requests

      const view = JobViewSchema.parse(await (await api(s, `/api/jobs/${job!.id}`)).json());
      expect(view.tasks.map((t) => t.name).sort()).toEqual(files.map((f) => path.basename(f)).sort());
      expect(await jobsOf(s)).toHaveLength(1);

      // Everything was sent: a third run sends nothing.
      const third = runCli(['submit', dir], env);
      expect(await third.exited, third.stderr()).toBe(0);
      expect(third.stderr()).toContain(`job ${job!.id} already holds these photos`);
      expect(cutter.uploads).toBe(5);
      expect((await jobsOf(s))[0]!.tasks.total).toBe(23);
    } finally {
      await cutter.close();
    }
  }, 180_000);
});

describe('tabgrid jobs, status, export, cancel, delete', () => {
  it('list, show, export, cancel and delete a job', async () => {
    const s = await server();
    const dir = tmp('small');
    await writePhotos(dir, 3, 21);
    const env = { TABGRID_KEY: TEST_KEYS.owner.key, TABGRID_STATE_DIR: tmp('state') };
    const submitted = runCli(['--server', s.url, 'submit', dir], env);
    expect(await submitted.exited, submitted.stderr()).toBe(0);
    const id = submitted.stdout().trim();

    const csv = path.join(tmp('csv'), 'r.csv');
    const [jobs, status, exported] = [
      runCli(['--server', s.url, 'jobs'], env),
      runCli(['--server', s.url, 'status', id], env),
      runCli(['--server', s.url, 'export', id, '--format', 'csv', '--out', csv], env),
    ];
    for (const r of [jobs, status, exported]) expect(await r.exited, r.stderr()).toBe(0);
    expect(jobs.stdout()).toMatch(new RegExp(`^${id}\\s+queued`, 'm'));
    expect(status.stdout()).toContain('3 photos: done 0, failed 0, running 0, queued 3');
    expect(fs.readFileSync(csv, 'utf8')).toBe(
      await (await api(s, `/api/jobs/${id}/export?format=csv`)).text(),
    );

    // Cancel stops the unfinished tasks and keeps the job; a repeat stops nothing more.
    const cancelled = runCli(['--server', s.url, 'cancel', id], env);
    expect(await cancelled.exited, cancelled.stderr()).toBe(0);
    expect(cancelled.stderr()).toMatch(
      new RegExp(`^cancelled job ${id} \\(.+\\): 3 unfinished tasks stopped;`),
    );
    const [job] = await jobsOf(s);
    expect(job).toMatchObject({ id, deletedAt: null, tasks: { total: 3, failed: 3 } });
    expect(job!.cancelledAt).not.toBeNull();
    const again = runCli(['--server', s.url, 'cancel', id], env);
    expect(await again.exited, again.stderr()).toBe(0);
    expect(again.stderr()).toContain(': 0 unfinished tasks stopped;');

    const deleted = runCli(['--server', s.url, 'delete', id], env);
    expect(await deleted.exited, deleted.stderr()).toBe(0);
    expect(deleted.stderr()).toContain(`deleted job ${id}: 0 unfinished tasks cancelled`);
    expect((await jobsOf(s))[0]!.deletedAt).not.toBeNull();
    // A deleted job has nothing left to cancel: one line, exit 1.
    const late = runCli(['--server', s.url, 'cancel', id], env);
    expect(await late.exited).toBe(1);
    expect(late.stderr().trim()).toBe(
      `tabgrid: bad_request: job ${id} was deleted; there is nothing left to cancel`,
    );
  }, 120_000);
});

describe('failures: one clear line, a non-zero exit, no stack trace', () => {
  it('bad key, server down, unknown job, missing key, bad arguments', async () => {
    const s = await server();
    const down = `http://127.0.0.1:${await freePort()}`;
    const key = TEST_KEYS.owner.key;
    const one = tmp('one');
    await writePhotos(one, 1, 22);
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [
        ['jobs'],
        { TABGRID_URL: s.url, TABGRID_KEY: 'wrong-key-0000000000' },
        /^tabgrid: unauthorized: this API key is not valid \(check TABGRID_KEY\)$/,
      ],
      [
        ['status', 'job_x'],
        { TABGRID_URL: down, TABGRID_KEY: key },
        /^tabgrid: network_error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is the server running\? set --server or TABGRID_URL\)$/,
      ],
      [['submit', one], { TABGRID_URL: down, TABGRID_KEY: key }, /^tabgrid: network_error: cannot reach/],
      [
        ['status', 'job_nope'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^tabgrid: not_found: job job_nope does not exist$/,
      ],
      [
        ['export', 'job_nope', '--format', 'coco'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^tabgrid: not_found: job job_nope does not exist$/,
      ],
      [
        ['cancel', 'job_nope'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^tabgrid: not_found: job job_nope does not exist$/,
      ],
      [['cancel'], { TABGRID_URL: s.url, TABGRID_KEY: key }, /^error: missing required argument 'id'/],
      [
        ['delete', 'job_nope'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^tabgrid: not_found: job job_nope does not exist$/,
      ],
      [['jobs'], { TABGRID_URL: s.url }, /^tabgrid: no API key: set TABGRID_KEY/],
      [
        ['submit', '/no/such/folder'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^tabgrid: \/no\/such\/folder: no such file or folder$/,
      ],
      [
        ['jobs'],
        { TABGRID_URL: 'ftp://x', TABGRID_KEY: key },
        /^tabgrid: the server address must start with http/,
      ],
      [
        ['export', 'job_x', '--format', 'xml'],
        { TABGRID_URL: s.url, TABGRID_KEY: key },
        /^error: option '--format <format>' argument 'xml' is invalid/,
      ],
      [['frobnicate'], {}, /^error: unknown command 'frobnicate'/],
    ];
    // Three processes at a time (the machine runs other tests too).
    const runs: ReturnType<typeof runCli>[] = [];
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3).map(([args, env]) => runCli(args, env));
      await Promise.all(batch.map((r) => r.exited));
      runs.push(...batch);
    }
    for (const [i, run] of runs.entries()) {
      const code = await run.exited;
      const err = run.stderr();
      expect(code, `${cases[i]![0].join(' ')}: ${err}`).not.toBe(0);
      expect(err.split('\n')[0], cases[i]![0].join(' ')).toMatch(cases[i]![2]);
      expect(err).not.toMatch(STACK);
      expect(run.stdout()).toBe('');
    }
  }, 240_000);
});
