/**
 * Webhooks through the real server (PROTOCOL.md W1–W12): real HTTP receivers on loopback, real
 * volunteer sockets (scripted honest volunteers), SQLite and a real Redis with two gateways.
 */
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from '../support/fake-volunteer';
import { bearer, readImage, sleep, startTestServer, until, type TestServer } from '../support/harness';
import { tmpDir } from '../support/processes';
import { startRedis, type TestRedis } from '../support/redis';
import type { ServerConfig } from '../../src/config';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
/** Quick retries and checks, loopback receivers allowed. */
const QUICK: Partial<ServerConfig> = {
  webhookAllowPrivate: true,
  webhookSecret: SECRET,
  webhookRetryMs: 100,
  webhookPollMs: 25,
  webhookSweepMs: 100,
};

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

/** A webhook receiver on loopback answering `statuses` in turn, then 200. */
async function startReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status,
        at: Date.now(),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/tabgrid`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const servers: TestServer[] = [];
const receivers: { close(): Promise<void> }[] = [];
let redis: TestRedis | null = null;
let current: TestServer;
const pool = volunteerPool(() => current.url);

async function server(config: Partial<ServerConfig>): Promise<TestServer> {
  const s = await startTestServer(config);
  servers.push(s);
  current = s;
  return s;
}

async function receiver(statuses: number[] = []) {
  const r = await startReceiver(statuses);
  receivers.push(r);
  return r;
}

afterEach(async () => {
  pool.closeAll();
  for (const s of servers.splice(0)) await s.close();
  for (const r of receivers.splice(0)) await r.close();
  await redis?.stop();
  redis = null;
});

async function createWithCallback(s: TestServer, callbackUrl: string, names = ['bus.jpg']) {
  const res = await s.upload(
    names.map((name) => ({ name, bytes: readImage(name) })),
    { fields: { callbackUrl } },
  );
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string };
}

const headersOf = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

async function metric(s: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tabgrid_webhook_deliveries_total{outcome="${outcome}"}`));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('webhooks', () => {
  it('a job with a loopback callbackUrl delivers exactly one job.completed, signed (W2–W5)', async () => {
    const s = await server(QUICK);
    const hook = await receiver();
    await pool.join('v1');
    const job = await createWithCallback(s, hook.url, ['bus.jpg', 'dog.jpg']);
    const view = await s.waitForJob(job.id);
    await until(() => hook.received.length >= 1, 10_000, 'the event');
    await sleep(500); // several polls and sweeps: nothing more may come
    expect(hook.received).toHaveLength(1);
    const [event] = hook.received;
    const verified = new Webhook(SECRET).verify(event!.body, headersOf(event!)) as {
      type: string;
      timestamp: string;
      data: unknown;
    };
    expect(verified.type).toBe('job.completed');
    expect(new Date(verified.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(verified.data).toEqual(view);
    expect(event!.headers['webhook-id']).toBe(`msg_${job.id}`);
    expect(event!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(event!.headers['content-type']).toBe('application/json');
    // A tampered body does not verify.
    expect(() =>
      new Webhook(SECRET).verify(event!.body.replace('done', 'dune'), headersOf(event!)),
    ).toThrow();
    expect(await s.webhooks.delivery(job.id)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(await metric(s, 'delivered')).toBe(1);
  });

  it('a decided delivery is pruned after its retention, and the job gets no second event (W11)', async () => {
    const s = await server({ ...QUICK, webhookRetentionMs: 300 });
    const hook = await receiver();
    await pool.join('v1');
    const job = await createWithCallback(s, hook.url, ['bus.jpg']);
    await s.waitForJob(job.id);
    await until(() => hook.received.length >= 1, 10_000, 'the event');
    await until(async () => (await s.webhooks.delivery(job.id)) === null, 10_000, 'pruned');
    await sleep(500); // several sweeps after the prune: nothing is enqueued again
    expect(hook.received).toHaveLength(1);
    expect(await s.webhooks.delivery(job.id)).toBeNull();
  });

  it('a job with a failed task sends job.failed (W3)', async () => {
    const s = await server({ ...QUICK, maxFailureReports: 1 });
    const hook = await receiver();
    await pool.join('v1', { behaviour: 'undecodable' });
    const job = await createWithCallback(s, hook.url);
    expect((await s.waitForJob(job.id)).status).toBe('failed');
    await until(() => hook.received.length >= 1, 10_000, 'the event');
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({
      type: 'job.failed',
      data: { id: job.id, status: 'failed' },
    });
  });

  it('a receiver that fails twice gets the event on the third try, same id and body (W6)', async () => {
    const s = await server(QUICK);
    const hook = await receiver([500, 503]);
    await pool.join('v1');
    const job = await createWithCallback(s, hook.url);
    await until(() => hook.received.length >= 3, 10_000, 'three attempts');
    await sleep(300);
    expect(hook.received.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(new Set(hook.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${job.id}`]));
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1);
    // Backoff: 100 ms then 600 ms (± 20 %).
    expect(hook.received[1]!.at - hook.received[0]!.at).toBeGreaterThanOrEqual(75);
    expect(hook.received[2]!.at - hook.received[1]!.at).toBeGreaterThanOrEqual(450);
    for (const r of hook.received)
      expect(() => new Webhook(SECRET).verify(r.body, headersOf(r))).not.toThrow();
    expect(await s.webhooks.delivery(job.id)).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(await metric(s, 'retried')).toBe(2);
    expect(await metric(s, 'delivered')).toBe(1);
  });

  it('gives up after the last attempt (W7)', async () => {
    const s = await server({ ...QUICK, webhookMaxAttempts: 2 });
    const hook = await receiver([500, 500, 500]);
    await pool.join('v1');
    const job = await createWithCallback(s, hook.url);
    await until(async () => (await s.webhooks.delivery(job.id))?.state === 'failed', 10_000, 'given up');
    await sleep(300);
    expect(hook.received).toHaveLength(2);
    expect(await s.webhooks.delivery(job.id)).toMatchObject({ attempts: 2, lastError: 'HTTP 500' });
    expect(await metric(s, 'given_up')).toBe(1);
  });

  it('a restart between tries does not lose the event; the generated secret is kept in the store (W5, W8)', async () => {
    const dataDir = tmpDir('tabgrid-hooks-restart-');
    const config = { ...QUICK, webhookSecret: null, webhookRetryMs: 1500, dataDir };
    const first = await server(config);
    const hook = await receiver([500]);
    await pool.join('v1');
    const job = await createWithCallback(first, hook.url);
    await until(() => hook.received.length >= 1, 10_000, 'the first attempt');
    pool.closeAll();
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    expect(hook.received).toHaveLength(1);

    const second = await server(config);
    await until(() => hook.received.length >= 2, 10_000, 'the attempt after the restart');
    await sleep(300);
    expect(hook.received.map((r) => r.status)).toEqual([500, 200]);
    expect(await second.webhooks.delivery(job.id)).toMatchObject({ state: 'delivered', attempts: 2 });
    // The secret generated at the first start, read as the start-up log says.
    const db = new Database(path.join(dataDir, 'tabgrid.sqlite'), { readonly: true });
    const { value } = db.prepare("SELECT value FROM webhook_settings WHERE key = 'secret'").get() as {
      value: string;
    };
    db.close();
    expect(value).toMatch(/^whsec_/);
    for (const r of hook.received)
      expect(() => new Webhook(value).verify(r.body, headersOf(r))).not.toThrow();
  });

  it('a job deleted by its owner before it ends gets no event (W4)', async () => {
    const s = await server(QUICK);
    const hook = await receiver();
    const job = await createWithCallback(s, hook.url);
    const del = await fetch(`${s.url}/api/jobs/${job.id}`, { method: 'DELETE', headers: bearer() });
    expect(del.status).toBe(200);
    await pool.join('v1');
    await sleep(500);
    expect(hook.received).toHaveLength(0);
    expect(await s.webhooks.delivery(job.id)).toBeNull();
  });

  it('refuses a bad callbackUrl with 400 and stores nothing (W1)', async () => {
    const s = await server(QUICK);
    for (const [url, message] of [
      ['not a url', /absolute URL/],
      ['ftp://example.com/x', /http or https/],
      [`https://example.com/${'a'.repeat(2100)}`, /longer than 2048/],
    ] as const) {
      const res = await s.upload([{ name: 'bus.jpg', bytes: readImage('bus.jpg') }], {
        fields: { callbackUrl: url },
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('bad_request');
      expect(body.error.message).toMatch(message);
    }
    const list = (await (await fetch(`${s.url}/api/jobs`, { headers: bearer() })).json()) as {
      jobs: unknown[];
    };
    expect(list.jobs).toHaveLength(0);
    // Set at creation only: adding photos with a callbackUrl is refused, nothing added.
    const job = await s.createJob(['bus.jpg']);
    const form = new FormData();
    form.append('callbackUrl', 'https://example.com/hook');
    form.append(
      'images',
      new Blob([readImage('dog.jpg') as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
      'dog.jpg',
    );
    const more = await fetch(`${s.url}/api/jobs/${job.id}/images`, {
      method: 'POST',
      body: form,
      headers: bearer(),
    });
    expect(more.status).toBe(400);
    expect(((await more.json()) as { error: { message: string } }).error.message).toMatch(
      /set when the job is created/,
    );
    expect((await s.getJob(job.id)).tasks).toHaveLength(1);
  });

  it('a callbackUrl that cannot be stored after its job answers 503 naming the job (W1)', async () => {
    const s = await server(QUICK);
    const db = new Database(path.join(s.dataDir, 'tabgrid.sqlite'));
    db.exec('DROP TABLE webhook_targets'); // the one write after the job fails
    db.close();
    const res = await s.upload([{ name: 'bus.jpg', bytes: readImage('bus.jpg') }], {
      fields: { callbackUrl: 'http://127.0.0.1:9/hook' },
    });
    expect(res.status).toBe(503);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('storage_unavailable');
    const jobId = /job (\S+) was stored/.exec(error.message)?.[1];
    expect(jobId).toBeTruthy();
    expect((await s.getJob(jobId!)).tasks).toHaveLength(1);
    expect(await s.errors.total()).toBeGreaterThan(0);
  });

  it('without TABGRID_WEBHOOK_ALLOW_PRIVATE a loopback target is refused at creation (400) and at connect time (W9)', async () => {
    const s = await server({ ...QUICK, webhookAllowPrivate: false });
    const hook = await receiver();
    for (const url of [
      hook.url,
      hook.url.replace('127.0.0.1', 'localhost'),
      'http://[::1]:9/x',
      'http://169.254.169.254/latest',
    ]) {
      const res = await s.upload([{ name: 'bus.jpg', bytes: readImage('bus.jpg') }], {
        fields: { callbackUrl: url },
      });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /private, loopback or link-local/,
      );
    }
    // A name that resolved to a public address at creation and to loopback now (DNS rebinding):
    // registered past the creation check, the connection itself is refused.
    const job = await s.createJob(['bus.jpg']);
    await s.webhooks.register(job.id, hook.url);
    await pool.join('v1');
    await s.waitForJob(job.id);
    await until(
      async () => ((await s.webhooks.delivery(job.id))?.attempts ?? 0) >= 2,
      10_000,
      'two refused attempts',
    );
    const delivery = await s.webhooks.delivery(job.id);
    expect(delivery).toMatchObject({ state: 'pending' });
    expect(delivery!.lastError).toMatch(/not allowed/i);
    expect(hook.received).toHaveLength(0);
  });

  it('two Redis gateways deliver a job event exactly once (W8)', async () => {
    redis = await startRedis();
    const blobDir = tmpDir('tabgrid-hooks-blobs-');
    const racing = { ...QUICK, webhookPollMs: 5, webhookSweepMs: 5, redisUrl: redis.url, blobDir };
    const one = await server({ ...racing, gatewayId: 'gw-hooks-1' });
    const two = await server({ ...racing, gatewayId: 'gw-hooks-2' });
    const hook = await receiver();
    current = one;
    await pool.join('v1');
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await createWithCallback(two, hook.url, ['bus.jpg', 'dog.jpg']));
    await until(() => hook.received.length >= jobs.length, 20_000, 'every event');
    await sleep(1000);
    const ids = hook.received.map((r) => r.headers['webhook-id']).sort();
    expect(ids).toEqual(jobs.map((j) => `msg_${j.id}`).sort());
    expect((await metric(one, 'delivered')) + (await metric(two, 'delivered'))).toBe(jobs.length);
  });
});
