/**
 * `/live`'s figures await the store's task counts (stores are async throughout), but a store that
 * stalls (a Redis that stopped answering) must not hold them: the snapshot and the once-a-second
 * figures still come, with the last counts read. Real server, real Socket.IO; the stalled store
 * is the SQLite one with a `counts()` that, once stalled, never settles.
 */
import { NAMESPACES, PROTOCOL_VERSION, type LiveSnapshot, type LiveStats } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { SchedulingStore } from '../src/store/scheduling-store';
import { startTestServer, type TestServer } from './support/harness';

let server: TestServer | undefined;
let socket: Socket | undefined;

afterEach(async () => {
  socket?.close();
  await server?.close();
  server = socket = undefined;
});

/** The store, with `counts()` never answering once `stalled.on` is set. */
function stallingCounts(stalled: { on: boolean }) {
  return (store: SchedulingStore): SchedulingStore =>
    new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'counts') return () => (stalled.on ? new Promise(() => undefined) : target.counts());
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
}

describe('live figures with a stalled store', () => {
  it('still sends the snapshot and the figures, with the last counts read', async () => {
    const stalled = { on: false };
    server = await startTestServer({}, { wrapStore: stallingCounts(stalled) });
    await server.createJob(['dog.jpg']);
    socket = io(`${server.url}${NAMESPACES.live}`, {
      transports: ['websocket'],
      reconnection: false,
      auth: { protocolVersion: PROTOCOL_VERSION },
    });
    // Counts answer: the snapshot carries them.
    const first = await new Promise<LiveSnapshot>((resolve) => socket!.once('live:snapshot', resolve));
    expect(first.stats.tasks.queued).toBe(1);

    stalled.on = true;
    const stats = await new Promise<LiveStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no live:stats within 3 s')), 3000);
      socket!.once('live:stats', (s: LiveStats) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
    expect(stats.tasks.queued).toBe(1); // the last counts read

    // A new viewer still gets its snapshot.
    const late = io(`${server.url}${NAMESPACES.live}`, {
      transports: ['websocket'],
      reconnection: false,
      auth: { protocolVersion: PROTOCOL_VERSION },
    });
    try {
      const snapshot = await new Promise<LiveSnapshot>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no live:snapshot within 3 s')), 3000);
        late.once('live:snapshot', (s: LiveSnapshot) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
      expect(snapshot.stats.tasks.queued).toBe(1);
    } finally {
      late.close();
    }
  });
});
