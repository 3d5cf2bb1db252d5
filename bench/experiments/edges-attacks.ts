/**
 * The front-door attacks of issue 17 (parts E and G), tried against an in-process server with the
 * product's defaults for the limits they meet: identity minting from one address, key guessing,
 * `/live` sockets from one address, and an event sent with only an ack. Prints what got through.
 *
 * Run: `npx tsx bench/experiments/edges-attacks.ts` (a few seconds). Figures: docs/SECURITY.md.
 */
import http from 'node:http';
import { PROTOCOL_VERSION } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { startTestServer } from '../../apps/server/test/support/harness';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';

const server = await startTestServer({
  newIdentitiesPerHour: DEFAULT_CONFIG.newIdentitiesPerHour,
  maxLivePerIp: DEFAULT_CONFIG.maxLivePerIp,
  signInFailuresPerMinute: DEFAULT_CONFIG.signInFailuresPerMinute,
});
const agent = () => new http.Agent({ localAddress: '127.0.1.1' });

function handshake(nsp: string, auth: object): Promise<{ socket: Socket; answer: string }> {
  const socket = io(`${server.url}${nsp}`, {
    auth: { protocolVersion: PROTOCOL_VERSION, ...auth },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    agent: agent() as never,
  });
  return new Promise((resolve) => {
    socket.once(nsp === '/volunteer' ? 'hello' : 'connect', () => resolve({ socket, answer: 'accepted' }));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) =>
      resolve({ socket, answer: err.data?.code ?? err.message }),
    );
  });
}

const tally = (answers: string[]) =>
  Object.entries(answers.reduce<Record<string, number>>((t, a) => ((t[a] = (t[a] ?? 0) + 1), t), {}))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

try {
  // 1. Identity minting: 200 new volunteers from one address, one after the other.
  let started = Date.now();
  const minted: string[] = [];
  for (let i = 0; i < 200; i++) {
    const { socket, answer } = await handshake('/volunteer', { kind: 'agent' });
    minted.push(answer);
    socket.close();
  }
  console.log(`identity minting, 200 tries from one address in ${Date.now() - started} ms: ${tally(minted)}`);

  // 2. Key guessing: 1,000 wrong keys from one address.
  started = Date.now();
  const guesses: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const status = await new Promise<number>((resolve) => {
      const req = http.get(
        `${server.url}/api/me`,
        { agent: agent(), headers: { authorization: `Bearer guess-${i}-0123456789abcdefghij` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
    });
    guesses.push(String(status));
  }
  const took = (Date.now() - started) / 1000;
  console.log(
    `key guessing, 1,000 guesses in ${took.toFixed(1)} s: ${tally(guesses)} (${(guesses.filter((g) => g === '401').length / took).toFixed(1)} keys looked at per second)`,
  );

  // 3. /live sockets from one address.
  const live = await Promise.all(Array.from({ length: 200 }, () => handshake('/live', {})));
  console.log(`/live, 200 sockets from one address: ${tally(live.map((l) => l.answer))}`);
  for (const l of live) l.socket.close();
} finally {
  await server.close();
}
