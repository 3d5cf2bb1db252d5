/**
 * Identity farming (issue 17, part E; PROTOCOL.md I8-I10): new identities are rate-limited per
 * network over real sockets (distinct loopback /24s, `TABGRID_DISTINCT_NETWORKS` on), a resumed
 * identity is not counted, and an identity that never did verified work is gone after its lifetime.
 */
import { PROTOCOL_VERSION } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/harness';
import { agentFrom } from './net';

let server: TestServer | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await server?.close();
  server = null;
});

/** A volunteer from `address`: its identity (`hello`), or the refusal's code. */
async function join(address: string, auth: Record<string, unknown> = {}) {
  const socket = io(`${server!.url}/volunteer`, {
    auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent', ...auth },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    agent: agentFrom(address) as never,
  });
  sockets.push(socket);
  const answer = await new Promise<
    { hello: { volunteerId: string; token?: string } } | { error: Error & { data?: { code: string } } }
  >((resolve) => {
    socket.once('hello', (hello: { volunteerId: string; token?: string }) => resolve({ hello }));
    socket.once('connect_error', (error: Error & { data?: { code: string } }) => resolve({ error }));
  });
  socket.close();
  if ('error' in answer)
    return { code: answer.error.data?.code ?? answer.error.message, message: answer.error.message };
  return { code: 'accepted', volunteerId: answer.hello.volunteerId, token: answer.hello.token };
}

describe('identities cost something', () => {
  it('at most TABGRID_NEW_IDENTITIES_PER_HOUR new identities per /24; another network and resumes are not refused', async () => {
    server = await startTestServer({ newIdentitiesPerHour: 3, distinctNetworks: true });
    const made = [];
    // Three addresses of one /24: one network.
    for (const address of ['127.0.1.1', '127.0.1.2', '127.0.1.3']) made.push(await join(address));
    expect(made.map((m) => m.code)).toEqual(['accepted', 'accepted', 'accepted']);
    const refused = await join('127.0.1.4');
    expect(refused.code).toBe('rate_limited');
    expect(refused.message).toMatch(/at most 3 new volunteer identities per hour/);
    // Another /24 has its own quota.
    expect((await join('127.0.2.1')).code).toBe('accepted');
    // An issued identity resumes from its network whatever the quota.
    const { volunteerId, token } = made[0]!;
    expect((await join('127.0.1.1', { volunteerId, token })).code).toBe('accepted');
  });

  it('an identity without verified work is refused once its lifetime is over', async () => {
    server = await startTestServer({ verification: true, identityTtlMs: 300, refereeWorkers: 0 });
    const issued = await join('127.0.1.9');
    expect(issued.code).toBe('accepted');
    const { volunteerId, token } = issued;
    expect((await join('127.0.1.9', { volunteerId, token })).code).toBe('accepted');
    await new Promise((r) => setTimeout(r, 400));
    expect((await join('127.0.1.9', { volunteerId, token })).code).toBe('identity_rejected');
  });
});
