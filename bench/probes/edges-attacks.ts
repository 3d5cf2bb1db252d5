/**
 * `--only=edges`: the front-door attacks of issue 17 (parts E and G), tried against an in-process
 * server with the product's defaults for the limits they meet: identity minting from one address,
 * key guessing, `/live` sockets from one address. Reports what got through (docs/SECURITY.md).
 */
import http from 'node:http';
import { PROTOCOL_VERSION } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { startTestServer } from '../../apps/server/test/support/harness';
import { round1 } from '../lib/stats';

/** Answers by kind (`accepted`, an error code, an HTTP status), counted. */
export type Tally = Record<string, number>;

export interface EdgesResult {
  minting: { tries: number; ms: number; answers: Tally };
  keyGuessing: { guesses: number; seconds: number; answers: Tally; keysLookedAtPerSecond: number };
  live: { sockets: number; answers: Tally };
}

const tally = (answers: string[]): Tally =>
  answers.reduce<Tally>((t, a) => ((t[a] = (t[a] ?? 0) + 1), t), {});

const show = (t: Tally) =>
  Object.entries(t)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

export async function edgesAttacks(quick: boolean): Promise<EdgesResult> {
  const server = await startTestServer({
    newIdentitiesPerHour: DEFAULT_CONFIG.newIdentitiesPerHour,
    maxLivePerIp: DEFAULT_CONFIG.maxLivePerIp,
    signInFailuresPerMinute: DEFAULT_CONFIG.signInFailuresPerMinute,
  });
  const agent = () => new http.Agent({ localAddress: '127.0.1.1' });
  const handshake = (nsp: string, auth: object): Promise<{ socket: Socket; answer: string }> => {
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
  };
  const tries = quick ? 50 : 200;
  const guesses = quick ? 200 : 1000;
  try {
    // 1. Identity minting: new volunteers from one address, one after the other.
    let started = Date.now();
    const minted: string[] = [];
    for (let i = 0; i < tries; i++) {
      const { socket, answer } = await handshake('/volunteer', { kind: 'agent' });
      minted.push(answer);
      socket.close();
    }
    const minting = { tries, ms: Date.now() - started, answers: tally(minted) };

    // 2. Key guessing: wrong keys from one address.
    started = Date.now();
    const statuses: string[] = [];
    for (let i = 0; i < guesses; i++) {
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
      statuses.push(String(status));
    }
    const seconds = (Date.now() - started) / 1000;
    const looked = statuses.filter((s) => s === '401').length;

    // 3. /live sockets from one address.
    const live = await Promise.all(Array.from({ length: tries }, () => handshake('/live', {})));
    for (const l of live) l.socket.close();
    return {
      minting,
      keyGuessing: {
        guesses,
        seconds: round1(seconds),
        answers: tally(statuses),
        keysLookedAtPerSecond: round1(looked / seconds),
      },
      live: { sockets: tries, answers: tally(live.map((l) => l.answer)) },
    };
  } finally {
    await server.close();
  }
}

export const renderEdges = (r: EdgesResult): string[] => [
  'Front-door attacks from one address (issue 17 E/G, product defaults)',
  `  identity minting, ${r.minting.tries} tries in ${r.minting.ms} ms: ${show(r.minting.answers)}`,
  `  key guessing, ${r.keyGuessing.guesses} guesses in ${r.keyGuessing.seconds} s: ${show(r.keyGuessing.answers)} ` +
    `(${r.keyGuessing.keysLookedAtPerSecond} keys looked at per second)`,
  `  /live, ${r.live.sockets} sockets: ${show(r.live.answers)}`,
];
