/**
 * One contract, two ledgers: every test runs against the SQLite store (a real database file) and
 * the Redis store (a real redis-server, test/support/redis.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../support/redis';
import { openDatabase, type Db } from '../../src/storage/database';
import { DAY_MS, DEFAULT_CREDIT_POLICY } from '../../src/ledger/policy';
import { RedisLedgerStore } from '../../src/ledger/redis-ledger';
import { SqliteLedgerStore } from '../../src/ledger/sqlite-ledger';
import { PartialLedgerBatchError } from '../../src/ledger/ledger-batch-error';
import type { CreditReason, LedgerOp, LedgerStore, NewEntry } from '../../src/ledger/types';

let redisServer: TestRedis;
let redis: Redis;
const dbs: { db: Db; dir: string }[] = [];
let prefixes = 0;

beforeAll(async () => {
  redisServer = await startRedis({ appendfsync: 'off' });
  redis = new Redis(redisServer.url);
}, 20_000);

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  for (const { db, dir } of dbs) {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const backends: [string, () => LedgerStore][] = [
  [
    'sqlite',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-ledger-'));
      const db = openDatabase(dir);
      dbs.push({ db, dir });
      return new SqliteLedgerStore(db);
    },
  ],
  // A fresh key prefix per test: one Redis, no test sees another's keys.
  ['redis', () => new RedisLedgerStore(redis, DEFAULT_CREDIT_POLICY, `test${++prefixes}`)],
];

const T0 = Date.UTC(2026, 10, 26, 12);
const entry = (volunteerId: string, n: number, over: Partial<NewEntry> = {}): NewEntry => ({
  volunteerId,
  assignmentId: `${volunteerId}-a${n}`,
  taskId: `t${n}`,
  photos: 1,
  quick: false,
  at: T0 + n,
  ...over,
});

describe.each(backends)('ledger contract: %s', (_name, open) => {
  it('records one entry per assignment: a repeat is a no-op', async () => {
    const ledger = open();
    expect(await ledger.record(entry('v1', 1), 'provisional', null)).toEqual({ recorded: true, bonus: 0 });
    expect(await ledger.record(entry('v1', 1), 'provisional', null)).toEqual({ recorded: false, bonus: 0 });
    expect(await ledger.record(entry('v1', 1), 'granted', 'trusted')).toEqual({ recorded: false, bonus: 0 });
    const t = await ledger.totals('v1', T0);
    expect(t.total).toEqual({ pending: 10, granted: 0, revoked: 0 });
    expect(await ledger.entries('v1')).toHaveLength(1);
    expect(await ledger.events('v1')).toHaveLength(1);
  });

  it('moves provisional -> granted -> revoked only, appending one event per move', async () => {
    const ledger = open();
    const ref = { volunteerId: 'v1', assignmentId: 'v1-a1' };
    await ledger.record(entry('v1', 1), 'provisional', null);
    expect(await ledger.grant(ref, 'replicated', T0 + 10)).toBe(true);
    expect(await ledger.grant(ref, 'replicated', T0 + 11)).toBe(false);
    expect((await ledger.totals('v1', T0)).total).toEqual({ pending: 0, granted: 10, revoked: 0 });
    expect(await ledger.revoke(ref, 'backtracked', T0 + 20)).toBe(true);
    expect(await ledger.revoke(ref, 'backtracked', T0 + 21)).toBe(false);
    expect(await ledger.grant(ref, 'replicated', T0 + 22)).toBe(false);
    expect((await ledger.totals('v1', T0)).total).toEqual({ pending: 0, granted: 0, revoked: 10 });
    expect((await ledger.events('v1')).map((e) => [e.state, e.reason])).toEqual([
      ['provisional', null],
      ['granted', 'replicated'],
      ['revoked', 'backtracked'],
    ]);
    expect((await ledger.entries('v1'))[0]!.state).toBe('revoked');
    // Another volunteer cannot move this entry, and unknown entries do not move.
    expect(await ledger.revoke({ volunteerId: 'v2', assignmentId: 'v1-a1' }, 'wrong', T0)).toBe(false);
    expect(await ledger.grant({ volunteerId: 'v1', assignmentId: 'nope' }, 'trusted', T0)).toBe(false);
  });

  it('counts today by the UTC day of each entry', async () => {
    const ledger = open();
    await ledger.record(entry('v1', 1, { at: T0 - DAY_MS }), 'granted', 'trusted');
    await ledger.record(entry('v1', 2), 'granted', 'trusted');
    await ledger.record(entry('v1', 3), 'provisional', null);
    const t = await ledger.totals('v1', T0);
    expect(t.today).toEqual({ pending: 10, granted: 10 });
    expect(t.total).toEqual({ pending: 10, granted: 20, revoked: 0 });
    expect((await ledger.totals('v1', T0 + DAY_MS)).today).toEqual({ pending: 0, granted: 0 });
    expect(await ledger.totals('nobody', T0)).toMatchObject({
      total: { pending: 0, granted: 0, revoked: 0 },
    });
  });

  it('gives the quick-return bonus only after 10 verified results at an 80 % verified rate', async () => {
    const ledger = open();
    let n = 0;
    const grant = async (quick: boolean) => {
      n++;
      const out = await ledger.record(entry('v1', n, { quick }), 'provisional', null);
      await ledger.grant({ volunteerId: 'v1', assignmentId: `v1-a${n}` }, 'replicated', T0 + n);
      return out.bonus;
    };
    for (let i = 0; i < 10; i++) expect(await grant(true)).toBe(0); // 0..9 granted before each
    expect(await grant(true)).toBe(5); // 10 granted, rate 100 %
    expect(await grant(false)).toBe(0); // not quick
    for (let i = 0; i < 3; i++) expect(await grant(true)).toBe(5);
    // Three revoked: 12 granted / 15 settled = 80 % still qualifies; a fourth (12/16) does not.
    for (let i = 1; i <= 3; i++)
      await ledger.revoke({ volunteerId: 'v1', assignmentId: `v1-a${i}` }, 'backtracked', T0);
    n++;
    expect((await ledger.record(entry('v1', n, { quick: true }), 'provisional', null)).bonus).toBe(5);
    await ledger.revoke({ volunteerId: 'v1', assignmentId: `v1-a${n}` }, 'wrong', T0);
    n++;
    expect((await ledger.record(entry('v1', n, { quick: true }), 'provisional', null)).bonus).toBe(0);
    const t = await ledger.totals('v1', T0);
    expect(t).toEqual(await ledger.recompute('v1', T0));
    expect(t.total.revoked).toBe(3 * 10 + 15);
  });

  it('ranks volunteers by granted credits only', async () => {
    const ledger = open();
    for (let i = 1; i <= 3; i++) await ledger.record(entry('big', i), 'granted', 'trusted');
    await ledger.record(entry('small', 1), 'granted', 'trusted');
    await ledger.record(entry('pending', 1), 'provisional', null);
    await ledger.record(entry('gone', 1), 'granted', 'trusted');
    await ledger.revoke({ volunteerId: 'gone', assignmentId: 'gone-a1' }, 'backtracked', T0);
    expect(await ledger.leaderboard(10)).toEqual([
      { volunteerId: 'big', granted: 30 },
      { volunteerId: 'small', granted: 10 },
    ]);
    expect(await ledger.leaderboard(1)).toEqual([{ volunteerId: 'big', granted: 30 }]);
  });

  it('keeps maintained totals equal to a recompute from the entries after a random sequence', async () => {
    const ledger = open();
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const volunteers = ['va', 'vb', 'vc'];
    const refs: { volunteerId: string; assignmentId: string }[] = [];
    const reasons: CreditReason[] = ['wrong', 'quarantined', 'backtracked'];
    for (let i = 0; i < 400; i++) {
      const r = rand();
      const volunteerId = volunteers[Math.floor(rand() * volunteers.length)]!;
      if (r < 0.4 || refs.length === 0) {
        const e = entry(volunteerId, i, {
          quick: rand() < 0.7,
          at: T0 - Math.floor(rand() * 3) * DAY_MS + i,
        });
        await ledger.record(e, rand() < 0.3 ? 'granted' : 'provisional', null);
        refs.push(e);
      } else if (r < 0.75) {
        await ledger.grant(refs[Math.floor(rand() * refs.length)]!, 'replicated', T0 + i);
      } else if (r < 0.9) {
        await ledger.revoke(refs[Math.floor(rand() * refs.length)]!, reasons[i % 3]!, T0 + i);
      } else {
        // Repeats, and moves naming the wrong volunteer: all no-ops.
        const ref = refs[Math.floor(rand() * refs.length)]!;
        await ledger.record(
          { ...entry(ref.volunteerId, 0), assignmentId: ref.assignmentId },
          'granted',
          null,
        );
        await ledger.revoke({ volunteerId: 'intruder', assignmentId: ref.assignmentId }, 'wrong', T0);
      }
    }
    let granted = 0;
    for (const v of volunteers) {
      const maintained = await ledger.totals(v, T0);
      expect(maintained, v).toEqual(await ledger.recompute(v, T0));
      expect(maintained.total.granted + maintained.total.pending + maintained.total.revoked).toBeGreaterThan(
        0,
      );
      granted += maintained.total.granted;
    }
    const board = await ledger.leaderboard(10);
    expect(board.reduce((s, r) => s + r.granted, 0)).toBe(granted);
    expect(await ledger.totals('intruder', T0)).toMatchObject({ grantedCount: 0, revokedCount: 0 });
  });

  it('applyAll writes what the single calls write, in order', async () => {
    const single = open();
    const batched = open();
    let seed = 777;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const volunteers = ['va', 'vb', 'vc'];
    const refs: { volunteerId: string; assignmentId: string }[] = [];
    const ops: LedgerOp[] = [];
    for (let i = 0; i < 300; i++) {
      const r = rand();
      const volunteerId = volunteers[Math.floor(rand() * volunteers.length)]!;
      const ref = refs[Math.floor(rand() * refs.length)];
      if (r < 0.45 || !ref) {
        const e = entry(volunteerId, i, { quick: rand() < 0.7 });
        ops.push({ kind: 'record', entry: e, state: rand() < 0.3 ? 'granted' : 'provisional', reason: null });
        refs.push(e);
      } else if (r < 0.75) ops.push({ kind: 'grant', ref, reason: 'replicated', at: T0 + i });
      else if (r < 0.95) ops.push({ kind: 'revoke', ref, reason: 'wrong', at: T0 + i });
      else if (r < 0.98)
        ops.push({ kind: 'revokeProvisional', volunteerId, reason: 'quarantined', at: T0 + i });
      else ops.push({ kind: 'revokeAll', volunteerId, reason: 'quarantined', at: T0 + i });
    }
    for (const op of ops) {
      if (op.kind === 'record') await single.record(op.entry, op.state, op.reason);
      else if (op.kind === 'grant') await single.grant(op.ref, op.reason, op.at);
      else if (op.kind === 'revoke') await single.revoke(op.ref, op.reason, op.at);
      else
        for (const e of await single.entries(op.volunteerId))
          if (e.state === 'provisional' || (op.kind === 'revokeAll' && e.state === 'granted'))
            await single.revoke(e, op.reason, op.at);
    }
    for (let i = 0; i < ops.length; i += 70) await batched.applyAll(ops.slice(i, i + 70));
    for (const v of volunteers) {
      expect(await batched.entries(v), v).toEqual(await single.entries(v));
      expect(await batched.events(v), v).toEqual(await single.events(v));
      expect(await batched.totals(v, T0), v).toEqual(await single.totals(v, T0));
      expect(await batched.totals(v, T0), v).toEqual(await batched.recompute(v, T0));
    }
    expect((await batched.events('va')).some((e) => e.reason === 'quarantined')).toBe(true);
    expect(await batched.leaderboard(10)).toEqual(await single.leaderboard(10));
  });

  it('revokeAll takes back every entry of one volunteer, granted and pending, once; others keep theirs', async () => {
    const ledger = open();
    await ledger.record(entry('liar', 1), 'granted', 'trusted');
    await ledger.record(entry('liar', 2), 'provisional', null);
    await ledger.grant({ volunteerId: 'liar', assignmentId: 'liar-a2' }, 'replicated', T0 + 10);
    await ledger.record(entry('liar', 3), 'provisional', null);
    await ledger.record(entry('liar', 4), 'granted', 'refereed');
    await ledger.revoke({ volunteerId: 'liar', assignmentId: 'liar-a4' }, 'backtracked', T0 + 11);
    await ledger.record(entry('honest', 5), 'granted', 'replicated');
    await ledger.record(entry('honest', 6), 'provisional', null);
    expect((await ledger.totals('liar', T0)).total).toEqual({ pending: 10, granted: 20, revoked: 10 });

    const caught: LedgerOp = { kind: 'revokeAll', volunteerId: 'liar', reason: 'quarantined', at: T0 + 20 };
    await ledger.applyAll([caught]);
    const t = await ledger.totals('liar', T0);
    expect(t.total).toEqual({ pending: 0, granted: 0, revoked: 40 });
    expect(t.today).toEqual({ pending: 0, granted: 0 });
    expect(t).toEqual(await ledger.recompute('liar', T0));
    expect((await ledger.entries('liar')).map((e) => e.state)).toEqual(Array(4).fill('revoked'));
    const events = await ledger.events('liar');
    expect(events.filter((e) => e.at === T0 + 20).map((e) => [e.assignmentId, e.reason])).toEqual([
      ['liar-a1', 'quarantined'],
      ['liar-a2', 'quarantined'],
      ['liar-a3', 'quarantined'],
    ]);
    // Idempotent: applied again, nothing is appended.
    await ledger.applyAll([caught]);
    expect(await ledger.events('liar')).toHaveLength(events.length);
    expect(await ledger.leaderboard(10)).toEqual([{ volunteerId: 'honest', granted: 10 }]);
    expect((await ledger.totals('honest', T0)).total).toEqual({ pending: 10, granted: 10, revoked: 0 });
  });

  it('applyAll that fails says what took effect: none of it (SQLite) or the ops before the failure (Redis)', async () => {
    const ledger = open();
    const broken = { ...entry('v1', 3) };
    Object.defineProperty(broken, 'photos', {
      get() {
        throw new Error('injected');
      },
    });
    const ops: LedgerOp[] = [
      { kind: 'record', entry: entry('v1', 1), state: 'granted', reason: 'trusted' },
      { kind: 'record', entry: entry('v1', 2), state: 'provisional', reason: null },
      { kind: 'record', entry: broken, state: 'granted', reason: 'trusted' },
      { kind: 'record', entry: entry('v1', 4), state: 'granted', reason: 'trusted' },
    ];
    const err: unknown = await ledger.applyAll(ops).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const done = err instanceof PartialLedgerBatchError ? err.done : 0;
    const written = (await ledger.entries('v1')).map((e) => e.assignmentId);
    expect(written).toEqual(['v1-a1', 'v1-a2'].slice(0, done));
    expect(done).toBe(_name === 'sqlite' ? 0 : 2);
    // The rest applied again: each entry once.
    await ledger.applyAll(ops.slice(done, 2).concat(ops.slice(3)));
    expect((await ledger.entries('v1')).map((e) => e.assignmentId).sort()).toEqual([
      'v1-a1',
      'v1-a2',
      'v1-a4',
    ]);
    expect(await ledger.events('v1')).toHaveLength(3);
  });
});

describe('sqlite ledger', () => {
  it('is append-only: the database refuses to update or delete entries and events', () => {
    backends[0]![1]();
    const { db } = dbs.at(-1)!;
    db.prepare("INSERT INTO credit_entries VALUES ('a1', 'v1', 't1', 10, 0, 0, 0)").run();
    db.prepare(
      "INSERT INTO credit_events (assignment_id, volunteer_id, state, at) VALUES ('a1', 'v1', 'provisional', 0)",
    ).run();
    expect(() =>
      db.prepare("UPDATE credit_entries SET base = 1000 WHERE assignment_id = 'a1'").run(),
    ).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM credit_events').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE credit_events SET state = 'granted'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM credit_entries').run()).toThrow(/append-only/);
  });
});
