import type { Redis } from 'ioredis';
import { applyOneByOne } from './apply-one-by-one';
import { dayOf, DEFAULT_CREDIT_POLICY, emptyTotals, foldTotals, type CreditPolicy } from './policy';
import type {
  CreditReason,
  CreditState,
  CreditTotals,
  EntryRef,
  LeaderboardRow,
  LedgerEntry,
  LedgerEvent,
  LedgerOp,
  LedgerStore,
  NewEntry,
  RecordOutcome,
} from './types';

/*
 * Key layout (ARCHITECTURE.md "Credits"); `{<volunteerId>}` is a Redis Cluster hash tag, so every
 * key of one volunteer is in one slot and each script below touches one slot only:
 *   <p>:{<vid>}:entries   HASH  assignmentId -> JSON {taskId, base, bonus, day, at}   (append-only)
 *   <p>:{<vid>}:log       LIST  JSON {a, s, r, t} per state change, in order           (append-only)
 *   <p>:{<vid>}:state     HASH  assignmentId -> current state       (derived index of the log)
 *   <p>:{<vid>}:totals    HASH  pending granted revoked grantedCount revokedCount   (aggregate)
 *   <p>:{<vid>}:daily     HASH  "<day>:pending", "<day>:granted"                   (aggregate)
 *   <p>:board             ZSET  volunteerId -> granted credits (derived; ZINCRBY by each change's
 *                               delta after its script, so it lives in its own slot)
 */

/** Shared by both scripts: moves the aggregates for `credits` from `from` (false: new) to `to`. */
const APPLY = `
local function apply(from, to, credits, day)
  local granted = 0
  local function move(s, sign)
    local c = sign * credits
    if s == 'provisional' then
      redis.call('HINCRBY', KEYS[4], 'pending', c)
      redis.call('HINCRBY', KEYS[5], day .. ':pending', c)
    elseif s == 'granted' then
      redis.call('HINCRBY', KEYS[4], 'granted', c)
      redis.call('HINCRBY', KEYS[4], 'grantedCount', sign)
      redis.call('HINCRBY', KEYS[5], day .. ':granted', c)
      granted = granted + c
    else
      redis.call('HINCRBY', KEYS[4], 'revoked', c)
      redis.call('HINCRBY', KEYS[4], 'revokedCount', sign)
    end
  end
  if from then move(from, -1) end
  move(to, 1)
  return granted
end
`;

/**
 * Idempotent append of a new entry with its first event, the bonus decided from the counts in
 * the same atomic step. ARGV: assignmentId taskId photos quick(0|1) at day state reason
 * creditsPerPhoto bonusPerPhoto bonusMinGranted bonusMinRate. Returns {recorded, bonus, grantedDelta}.
 */
const RECORD = `${APPLY}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0, 0, 0} end
local gc = tonumber(redis.call('HGET', KEYS[4], 'grantedCount') or '0')
local rc = tonumber(redis.call('HGET', KEYS[4], 'revokedCount') or '0')
local photos = tonumber(ARGV[3])
local base = photos * tonumber(ARGV[9])
local bonus = 0
if ARGV[4] == '1' and gc >= tonumber(ARGV[11]) and gc >= tonumber(ARGV[12]) * (gc + rc) then
  bonus = photos * tonumber(ARGV[10])
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({taskId = ARGV[2], base = base, bonus = bonus, day = ARGV[6], at = ARGV[5]}))
redis.call('RPUSH', KEYS[2], cjson.encode({a = ARGV[1], s = ARGV[7], r = ARGV[8], t = ARGV[5]}))
redis.call('HSET', KEYS[3], ARGV[1], ARGV[7])
local granted = apply(false, ARGV[7], base + bonus, ARGV[6])
return {1, bonus, granted}
`;

/** A legal state change (policy.ts canMove). ARGV: assignmentId to reason at. Returns {moved, grantedDelta}. */
const MOVE = `${APPLY}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, 0} end
local from = redis.call('HGET', KEYS[3], ARGV[1])
local to = ARGV[2]
if not ((from == 'provisional' and to ~= 'provisional') or (from == 'granted' and to == 'revoked')) then
  return {0, 0}
end
local e = cjson.decode(raw)
redis.call('RPUSH', KEYS[2], cjson.encode({a = ARGV[1], s = to, r = ARGV[3], t = ARGV[4]}))
redis.call('HSET', KEYS[3], ARGV[1], to)
local granted = apply(from, to, tonumber(e.base) + tonumber(e.bonus), e.day)
return {1, granted}
`;

interface Scripts {
  tabgridCreditRecord(...args: (string | number)[]): Promise<[number, number, number]>;
  tabgridCreditMove(...args: (string | number)[]): Promise<[number, number]>;
}

interface StoredEntry {
  taskId: string;
  base: number;
  bonus: number;
  day: string;
  at: string;
}

interface StoredEvent {
  a: string;
  s: CreditState;
  r: string;
  t: string;
}

/**
 * The ledger in Redis, for Redis mode (issue 10). Each change is one Lua script on the
 * volunteer's slot (append + aggregates, atomic and idempotent); the leaderboard follows with a
 * ZINCRBY of the change's granted delta.
 *
 * @example const ledger = new RedisLedgerStore(connectRedis(url, 'commands'));
 */
export class RedisLedgerStore implements LedgerStore {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: Redis,
    private readonly policy: CreditPolicy = DEFAULT_CREDIT_POLICY,
    private readonly prefix = 'tg:credit',
  ) {
    redis.defineCommand('tabgridCreditRecord', { numberOfKeys: 5, lua: RECORD });
    redis.defineCommand('tabgridCreditMove', { numberOfKeys: 5, lua: MOVE });
    this.scripts = redis as unknown as Scripts;
  }

  private keys(volunteerId: string): string[] {
    const k = `${this.prefix}:{${volunteerId}}`;
    return [`${k}:entries`, `${k}:log`, `${k}:state`, `${k}:totals`, `${k}:daily`];
  }

  private get board(): string {
    return `${this.prefix}:board`;
  }

  async record(
    entry: NewEntry,
    state: 'provisional' | 'granted',
    reason: CreditReason | null,
  ): Promise<RecordOutcome> {
    const p = this.policy;
    const [recorded, bonus, granted] = await this.scripts.tabgridCreditRecord(
      ...this.keys(entry.volunteerId),
      entry.assignmentId,
      entry.taskId,
      entry.photos,
      entry.quick ? 1 : 0,
      entry.at,
      dayOf(entry.at),
      state,
      reason ?? '',
      p.creditsPerPhoto,
      p.bonusPerPhoto,
      p.bonusMinGranted,
      p.bonusMinRate,
    );
    if (granted !== 0) await this.redis.zincrby(this.board, granted, entry.volunteerId);
    return { recorded: recorded === 1, bonus };
  }

  grant(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean> {
    return this.move(ref, 'granted', reason, at);
  }

  revoke(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean> {
    return this.move(ref, 'revoked', reason, at);
  }

  private async move(ref: EntryRef, to: CreditState, reason: CreditReason, at: number): Promise<boolean> {
    const [moved, granted] = await this.scripts.tabgridCreditMove(
      ...this.keys(ref.volunteerId),
      ref.assignmentId,
      to,
      reason,
      at,
    );
    if (granted !== 0) await this.redis.zincrby(this.board, granted, ref.volunteerId);
    return moved === 1;
  }

  /** One op after the other (each its own script): see `applyOneByOne`. */
  applyAll(ops: readonly LedgerOp[]): Promise<void> {
    return applyOneByOne(this, ops);
  }

  async totals(volunteerId: string, now: number): Promise<CreditTotals> {
    const day = dayOf(now);
    const keys = this.keys(volunteerId);
    const [t, d] = await Promise.all([
      this.redis.hgetall(keys[3]!),
      this.redis.hmget(keys[4]!, `${day}:pending`, `${day}:granted`),
    ]);
    const n = (v: string | null | undefined) => Number(v ?? 0);
    if (Object.keys(t).length === 0) return emptyTotals(day);
    return {
      day,
      today: { pending: n(d[0]), granted: n(d[1]) },
      total: { pending: n(t.pending), granted: n(t.granted), revoked: n(t.revoked) },
      grantedCount: n(t.grantedCount),
      revokedCount: n(t.revokedCount),
    };
  }

  async recompute(volunteerId: string, now: number): Promise<CreditTotals> {
    const [entries, events] = await Promise.all([this.storedEntries(volunteerId), this.events(volunteerId)]);
    return foldTotals(entries, events, now);
  }

  private async storedEntries(volunteerId: string): Promise<Omit<LedgerEntry, 'state'>[]> {
    const raw = await this.redis.hgetall(this.keys(volunteerId)[0]!);
    return Object.entries(raw)
      .map(([assignmentId, json]) => {
        const e = JSON.parse(json) as StoredEntry;
        return {
          assignmentId,
          volunteerId,
          taskId: e.taskId,
          base: Number(e.base),
          bonus: Number(e.bonus),
          day: Number(e.day),
          at: Number(e.at),
        };
      })
      .sort((a, b) => a.at - b.at);
  }

  async entries(volunteerId: string): Promise<LedgerEntry[]> {
    const [entries, states] = await Promise.all([
      this.storedEntries(volunteerId),
      this.redis.hgetall(this.keys(volunteerId)[2]!),
    ]);
    return entries.map((e) => ({ ...e, state: states[e.assignmentId] as CreditState }));
  }

  async events(volunteerId: string): Promise<LedgerEvent[]> {
    const raw = await this.redis.lrange(this.keys(volunteerId)[1]!, 0, -1);
    return raw.map((json) => {
      const e = JSON.parse(json) as StoredEvent;
      return { assignmentId: e.a, state: e.s, reason: (e.r || null) as CreditReason | null, at: Number(e.t) };
    });
  }

  async leaderboard(limit: number): Promise<LeaderboardRow[]> {
    const flat = await this.redis.zrevrange(this.board, 0, limit - 1, 'WITHSCORES');
    const rows: LeaderboardRow[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const granted = Number(flat[i + 1]);
      if (granted > 0) rows.push({ volunteerId: flat[i]!, granted });
    }
    return rows;
  }
}
