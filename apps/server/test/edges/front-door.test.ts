/**
 * The front door (issue 17, part G), as an attacker sees it: every HTTP answer carries the
 * security headers and every error the documented body (PROTOCOL.md H1, H2), a keyless upload is
 * refused readably through Node's `fetch` (H3), key guessing is throttled per address (H4), `/live`
 * connections are capped per address (L10), and every event sent with an ack gets an answer (P3).
 */
import fs from 'node:fs';
import { ApiErrorSchema, type Ack } from '@tabgrid/protocol';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  IMAGES_DIR,
  TEST_KEYS,
  bearer,
  readImage,
  startTestServer,
  type TestServer,
} from '../support/harness';
import { connectFrom, rawRequest, type RawAnswer } from './net';

let server: TestServer | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await server?.close();
  server = null;
});

/** The headers helmet sets (security-headers.ts), all of which every answer must carry. */
function expectSecurityHeaders(what: string, answer: Pick<RawAnswer, 'headers'>): void {
  const h = answer.headers;
  expect(h['content-security-policy'], what).toContain("default-src 'self'");
  expect(h['x-content-type-options'], what).toBe('nosniff');
  expect(h['x-frame-options'], what).toBe('DENY');
  expect(h['referrer-policy'], what).toBe('no-referrer');
  expect(h['cross-origin-opener-policy'], what).toBe('same-origin');
  expect(h['cross-origin-resource-policy'], what).toBe('same-origin');
}

function expectErrorBody(what: string, answer: RawAnswer, code?: string): void {
  expect(answer.status, what).toBeGreaterThanOrEqual(400);
  const parsed = ApiErrorSchema.safeParse(JSON.parse(answer.body || 'null'));
  expect(parsed.success, `${what}: ${answer.body}`).toBe(true);
  if (code && parsed.success) expect(parsed.data.error.code, what).toBe(code);
}

/** Socket.IO's WebSocket endpoint, up to the transport's name. */
const WS = '/socket.io/?EIO=4&transport=';

/** A WebSocket upgrade request's headers (a header given '' is left out). */
function upgrade(changes: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...changes,
  };
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''));
}

describe('front door: headers and error bodies on every answer', () => {
  it('every route, error, 404, malformed URL and Socket.IO answer carries the security headers', async () => {
    server = await startTestServer();
    const url = server.url;
    const auth = bearer();
    const cases: [string, string, Parameters<typeof rawRequest>[2], string | null][] = [
      ['health', '/healthz', {}, null],
      ['page', '/', {}, null],
      ['metrics without a key', '/metrics', {}, 'unauthorized'],
      ['api without a key', '/api/me', {}, 'unauthorized'],
      ['api with a key', '/api/me', { headers: auth }, null],
      ['unknown job', '/api/jobs/nope', { headers: auth }, 'not_found'],
      ['404', '/no/such/route', {}, 'not_found'],
      ['bad image token', '/img/bogus', {}, null],
      ['unknown model file', '/models/0000/none.onnx', {}, null],
      ['malformed URL', '/%zz', {}, 'bad_request'],
      ['malformed URL under /api', '/api/jobs/%E0%A4%A', { headers: auth }, 'bad_request'],
      [
        'upload, not multipart',
        '/api/jobs',
        { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'x' },
        'bad_request',
      ],
      [
        'invalid JSON',
        '/api/jobs/x/images',
        { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{' },
        null,
      ],
      ['Socket.IO polling handshake', '/socket.io/?EIO=4&transport=polling', {}, null],
      ['Socket.IO unknown transport', '/socket.io/?EIO=4&transport=bogus', {}, 'bad_request'],
      ['Socket.IO unknown session', '/socket.io/?EIO=4&transport=polling&sid=nope', {}, 'bad_request'],
      // WebSocket upgrade refusals, written raw on the socket by engine.io and ws.
      ['upgrade, unknown transport', `${WS}bogus`, { headers: upgrade() }, 'bad_request'],
      ['upgrade, unknown session', `${WS}websocket&sid=nope`, { headers: upgrade() }, 'bad_request'],
      [
        'upgrade, bad Upgrade header',
        `${WS}websocket`,
        { headers: upgrade({ upgrade: 'h2c' }) },
        'bad_request',
      ],
      ['upgrade, no key', `${WS}websocket`, { headers: upgrade({ 'sec-websocket-key': '' }) }, 'bad_request'],
      [
        'upgrade, bad version',
        `${WS}websocket`,
        { headers: upgrade({ 'sec-websocket-version': '99' }) },
        'bad_request',
      ],
      [
        'upgrade, origin refused',
        `${WS}websocket`,
        { headers: upgrade({ origin: 'https://evil.example' }) },
        'forbidden_origin',
      ],
      ['upgrade, wrong path', '/not-socket-io/', { headers: upgrade() }, 'not_found'],
    ];
    for (const [what, path, options, code] of cases) {
      const answer = await rawRequest(url, path, options);
      expectSecurityHeaders(`${what} (${answer.status})`, answer);
      if (code) expectErrorBody(what, answer, code);
      else if (answer.status >= 400) expectErrorBody(what, answer);
    }
  });
});

describe('front door: refusals a client can read', () => {
  it('a keyless upload of each sample photo through fetch gets a readable 401, every time', async () => {
    server = await startTestServer();
    const photos = fs.readdirSync(IMAGES_DIR).filter((f) => /\.(jpe?g|png)$/i.test(f));
    expect(photos.length).toBeGreaterThan(0);
    const all = photos.map((name) => ({ name, bytes: readImage(name) }));
    for (let round = 0; round < 3; round++) {
      // Each photo alone, all of them in one upload, and a folder's worth (about 27 MB).
      const folder = Array.from({ length: 7 }, () => all).flat();
      for (const files of [...all.map((f) => [f]), all, folder]) {
        const what = files.length > 1 ? `${files.length} photos` : files[0]!.name;
        const res = await server
          .upload(files, { key: null })
          .catch((err: Error & { cause?: { code?: string } }) => {
            throw new Error(`${what}: ${err.cause?.code ?? err.message}`);
          });
        expect(res.status, what).toBe(401);
        expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('unauthorized');
      }
    }
  });
});

describe('front door: key guessing', () => {
  it('throttles invalid keys per address: 429 with Retry-After, other addresses unaffected', async () => {
    server = await startTestServer({ signInFailuresPerMinute: 5 });
    const url = server.url;
    const guess = (key: string, localAddress: string) =>
      rawRequest(url, '/api/me', { headers: bearer(key), localAddress });
    for (let i = 0; i < 5; i++)
      expect((await guess(`wrong-key-${i}-0123456789abcdef`, '127.0.1.1')).status).toBe(401);
    const refused = await guess('wrong-key-x-0123456789abcdef', '127.0.1.1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expectErrorBody('throttled', refused, 'rate_limited');
    // While throttled, even the right key is not looked at (no oracle).
    expect((await guess(TEST_KEYS.owner.key, '127.0.1.1')).status).toBe(429);
    // Another network signs in as usual.
    expect((await guess(TEST_KEYS.owner.key, '127.0.2.1')).status).toBe(200);
    // /live handshakes with a key count against the same address.
    const live = await connectFrom(url, '/live', '127.0.1.1', { apiKey: TEST_KEYS.owner.key });
    sockets.push(live.socket);
    expect(live.error?.data?.code).toBe('rate_limited');
  });
});

describe('front door: /live', () => {
  it('caps /live connections per address with a clear refusal; other addresses connect', async () => {
    server = await startTestServer({ maxLivePerIp: 3 });
    for (let i = 0; i < 3; i++) {
      const ok = await connectFrom(server.url, '/live', '127.0.1.2');
      sockets.push(ok.socket);
      expect(ok.error).toBeNull();
    }
    const refused = await connectFrom(server.url, '/live', '127.0.1.2');
    sockets.push(refused.socket);
    expect(refused.error?.data?.code).toBe('rate_limited');
    expect(refused.error?.message).toMatch(/at most 3 live connections/);
    const other = await connectFrom(server.url, '/live', '127.0.2.2');
    sockets.push(other.socket);
    expect(other.error).toBeNull();
    // A closed connection frees its place.
    sockets[0]!.close();
    await new Promise((r) => setTimeout(r, 200));
    const again = await connectFrom(server.url, '/live', '127.0.1.2');
    sockets.push(again.socket);
    expect(again.error).toBeNull();
  });

  it('answers every event sent with an ack (P3), and rate-limits job:unwatch like the rest', async () => {
    server = await startTestServer({ socketEventsPerSecond: 5 });
    const { socket, error } = await connectFrom(server.url, '/live', '127.0.1.3', {
      apiKey: TEST_KEYS.owner.key,
    });
    sockets.push(socket);
    expect(error).toBeNull();
    const ask = (...args: unknown[]) =>
      socket.timeout(3000).emitWithAck(...(args as [string])) as Promise<Ack<unknown>>;
    // Only an ack, no payload: invalid_payload, not silence.
    expect(await ask('job:watch')).toMatchObject({ ok: false, code: 'invalid_payload' });
    expect(await ask('job:unwatch')).toMatchObject({ ok: false, code: 'invalid_payload' });
    expect(await ask('job:unwatch', { jobId: 'j1' })).toMatchObject({ ok: true });
    expect(await ask('no:such:event')).toMatchObject({ ok: false, code: 'unknown_event' });
    // A flood of job:unwatch is rate limited (bursts of twice the rate), answered as such.
    const answers = await Promise.all(Array.from({ length: 30 }, () => ask('job:unwatch', { jobId: 'j1' })));
    expect(answers.filter((a) => !a.ok && a.code === 'rate_limited').length).toBeGreaterThan(10);
  });
});
