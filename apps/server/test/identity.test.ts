/**
 * Volunteer identity over real sockets (PROTOCOL.md rules I1-I7): server-issued
 * ids and tokens, no takeover with a stolen id, resume with the token, the id
 * never on `/live`, the per-address limit, and `X-Forwarded-For` believed only
 * from a trusted proxy.
 */
import { PROTOCOL_VERSION, type LiveResult, type LiveSnapshot } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { readDb } from './support/processes';
import { FakeVolunteer, issuedIdentity, volunteerPool } from './support/fake-volunteer';
import { startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

/** The handshake error code for `auth` (and optional extra headers), or 'accepted'. */
async function handshake(auth: object, extraHeaders?: Record<string, string>): Promise<string> {
  const socket = io(`${server.url}/volunteer`, {
    auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent', ...auth },
    transports: ['websocket'],
    reconnection: false,
    ...(extraHeaders ? { extraHeaders } : {}),
  });
  try {
    return await new Promise<string>((resolve) => {
      socket.once('hello', () => resolve('accepted'));
      socket.once('connect_error', (err: Error & { data?: { code?: string } }) =>
        resolve(err.data?.code ?? err.message),
      );
    });
  } finally {
    socket.close();
  }
}

const connectError = (v: Promise<FakeVolunteer>) =>
  v.then(
    () => 'accepted',
    (err: Error & { data?: { code?: string } }) => err.data?.code ?? err.message,
  );

describe('volunteer identity', () => {
  it('issues an id, a 256-bit token and a display name to a newcomer, and stores only the hash (I1)', async () => {
    server = await startTestServer();
    const v = await pool.join('newcomer');
    expect(v.hello?.volunteerId).toMatch(/^v_[0-9a-f]{32}$/);
    expect(v.hello?.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(v.displayName).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    const rows = readDb(server.dataDir, (db) => db.prepare('SELECT * FROM volunteer_identities').all());
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(v.hello!.token!);
  });

  it('resumes the same id and display name with the token, and sends the token only once (I2)', async () => {
    server = await startTestServer();
    const first = await pool.join('returning');
    const { volunteerId, displayName } = first;
    first.close();
    const again = await pool.join('returning'); // presents the issued id + token
    expect(again.volunteerId).toBe(volunteerId);
    expect(again.displayName).toBe(displayName);
    expect(again.hello?.token).toBeUndefined();
  });

  it('refuses an id without its token, with a wrong token, or a token alone: no takeover (I3)', async () => {
    server = await startTestServer();
    const victim = await pool.join('victim', { behaviour: 'ack-then-silent' });
    await server.createJob(['dog.jpg']);
    await until(() => victim.held.size === 1, 10_000, 'the victim to hold the task');
    const stolen = victim.volunteerId;
    const wrong = 'A'.repeat(43);
    expect(await handshake({ volunteerId: stolen })).toBe('identity_rejected');
    expect(await handshake({ volunteerId: stolen, token: wrong })).toBe('identity_rejected');
    expect(await handshake({ token: issuedIdentity(server.url, 'victim')!.token })).toBe('identity_rejected');
    expect(await handshake({ volunteerId: 'v_unknown', token: wrong })).toBe('identity_rejected');
    expect(
      await connectError(
        FakeVolunteer.connect(server.url, {
          id: 'thief',
          credentials: { volunteerId: stolen, token: wrong },
        }),
      ),
    ).toBe('identity_rejected');
    // The victim is still connected and still holds its lease.
    expect(victim.socket.connected).toBe(true);
    expect(victim.cancelled).toEqual([]);
    expect(server.scheduler.volunteersOnline).toBe(1);
  });

  it('a second connection with the valid token replaces the first, which is told so (I4)', async () => {
    server = await startTestServer();
    const first = await pool.join('two-tabs');
    const replaced = new Promise<string>((resolve) =>
      first.socket.once('volunteer:replaced', ({ message }) => resolve(message)),
    );
    const second = await pool.join('two-tabs');
    expect(await replaced).toMatch(/elsewhere/);
    expect(second.volunteerId).toBe(first.volunteerId);
    await until(() => !first.socket.connected, 5000, 'the first connection to close');
    expect(server.scheduler.volunteersOnline).toBe(1);
  });

  it('never publishes the id on /live: results carry the display name (I7)', async () => {
    server = await startTestServer();
    const v = await pool.join('public');
    // Public, so that an anonymous /live viewer gets it (docs/SECURITY.md).
    const job = await server.createJob(['dog.jpg'], { public: true });
    await server.waitForJob(job.id);
    const live = io(`${server.url}/live`, {
      auth: { protocolVersion: PROTOCOL_VERSION },
      transports: ['websocket'],
    });
    const snapshot = await new Promise<LiveSnapshot>((resolve) => live.once('live:snapshot', resolve));
    live.close();
    const recent: LiveResult[] = snapshot.recent;
    expect(recent).toHaveLength(1);
    expect(recent[0]!.volunteerName).toBe(v.displayName);
    expect(JSON.stringify(snapshot)).not.toContain(v.volunteerId);
  });

  it('refuses the (N+1)th volunteer from one address with too_many_volunteers, and frees the slot on leave (I6)', async () => {
    server = await startTestServer({ maxVolunteersPerIp: 3 });
    const joined = [await pool.join('a'), await pool.join('b'), await pool.join('c')];
    expect(await handshake({})).toBe('too_many_volunteers');
    // Resuming one's own identity from the same address replaces, it does not count twice.
    expect(await connectError(pool.join('a'))).toBe('accepted');
    joined[1]!.close();
    await until(() => server.scheduler.volunteersOnline === 2, 5000, 'b to leave');
    expect(await handshake({})).toBe('accepted');
  });

  it('caps the tasks held by all volunteers of one address (I6)', async () => {
    server = await startTestServer({ maxTasksPerIp: 3 });
    const silent = [
      await pool.join('s1', { behaviour: 'ack-then-silent' }),
      await pool.join('s2', { behaviour: 'ack-then-silent' }),
    ];
    const job = await server.createJob(['dog.jpg', 'bus.jpg', 'dog.jpg', 'bus.jpg', 'dog.jpg', 'bus.jpg']);
    await until(() => silent[0]!.held.size + silent[1]!.held.size === 3, 10_000, '3 tasks held');
    await new Promise((r) => setTimeout(r, 300));
    // Each could hold 2 (maxInFlight), but the address may hold only 3.
    expect(silent[0]!.held.size + silent[1]!.held.size).toBe(3);
    expect(await server.store.counts()).toMatchObject({ running: 3, queued: 3 });
    // When they leave, their tasks go back and an honest newcomer from the same address gets work.
    for (const v of silent) v.close();
    await pool.join('honest');
    expect((await server.waitForJob(job.id, 30_000)).status).toBe('done');
  });

  it('believes X-Forwarded-For only from a trusted proxy (I5)', async () => {
    // Untrusted peer: the forwarded header is ignored, so every connection is 127.0.0.1.
    server = await startTestServer({ maxVolunteersPerIp: 1 });
    const first = await pool.join('untrusted');
    expect(await handshake({}, { 'x-forwarded-for': '203.0.113.7' })).toBe('too_many_volunteers');
    first.close();
    await server.close();

    // 127.0.0.1 is the trusted proxy: each forwarded client address has its own limit.
    server = await startTestServer({ maxVolunteersPerIp: 1, trustProxy: ['127.0.0.1'] });
    const held = io(`${server.url}/volunteer`, {
      auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent' },
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { 'x-forwarded-for': '203.0.113.7' },
    });
    await new Promise((resolve) => held.once('hello', resolve));
    try {
      expect(await handshake({}, { 'x-forwarded-for': '203.0.113.7' })).toBe('too_many_volunteers');
      expect(await handshake({}, { 'x-forwarded-for': '198.51.100.9' })).toBe('accepted');
    } finally {
      held.close();
    }
  });
});
