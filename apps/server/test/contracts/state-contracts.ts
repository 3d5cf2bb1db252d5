/**
 * Contract suites for the gateway-wide state stores (identities, API keys, reputation): the
 * same tests against every implementation, Keyv-test-suite style. `state-stores.test.ts` runs
 * them on SQLite and on a real Redis. Each `open()` is one gateway's view of one shared
 * store; calling it twice gives two gateways on the same state.
 */
import { describe, expect, it } from 'vitest';
import type { KeyBackend } from '../../src/access/key-backend';
import { KeyNameError, KeyStore } from '../../src/access/key-store';
import type { IdentityBackend } from '../../src/identity/identity-backend';
import { IdentityStore } from '../../src/identity/identity-store';
import { hashToken } from '../../src/identity/tokens';
import { NEW_REPUTATION, type Reputation } from '../../src/verification/reputation';
import type { ReputationStore } from '../../src/verification/reputation-store';

export interface StateStores {
  identities: IdentityBackend;
  keys: KeyBackend;
  reputations: ReputationStore;
}

/** A fresh, empty shared store per test: `gateway()` opens another view of it. */
export type OpenState = () => Promise<{ gateway: () => StateStores }>;

const until = async (check: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

export function identityContract(name: string, open: OpenState): void {
  describe(`${name}: identities`, () => {
    it('stores an identity and reads it back; an unknown id is null', async () => {
      const { gateway } = await open();
      const { identities } = gateway();
      const row = {
        volunteerId: 'v_0123',
        tokenSha256: hashToken('secret-token'),
        displayName: 'Brave Otter',
        createdAt: 1_700_000_000_000,
      };
      expect(await identities.insert(row)).toBe(true);
      expect(await identities.get('v_0123')).toEqual(row);
      expect(await identities.get('v_nobody')).toBeNull();
      await identities.touch('v_0123', 1_700_000_001_000);
      expect(await identities.get('v_0123')).toEqual(row);
    });

    it('refuses a second identity with a taken display name and stores nothing for it', async () => {
      const { gateway } = await open();
      const { identities } = gateway();
      const base = { tokenSha256: hashToken('t'), displayName: 'Calm Heron', createdAt: 1 };
      expect(await identities.insert({ ...base, volunteerId: 'v_a' })).toBe(true);
      expect(await identities.insert({ ...base, volunteerId: 'v_b' })).toBe(false);
      expect(await identities.get('v_b')).toBeNull();
      expect((await identities.get('v_a'))?.displayName).toBe('Calm Heron');
    });

    it('an identity issued by one gateway resumes on another, only with its token (I1, I2)', async () => {
      const { gateway } = await open();
      const one = new IdentityStore(gateway().identities);
      const two = new IdentityStore(gateway().identities);
      const issued = await one.create(1000);
      expect(issued.token).toMatch(/^[\w-]{43}$/);
      expect(await two.verify(issued.volunteerId, issued.token, 2000)).toEqual({
        volunteerId: issued.volunteerId,
        displayName: issued.displayName,
      });
      expect(await two.verify(issued.volunteerId, `${issued.token.slice(0, -1)}x`, 2000)).toBeNull();
      expect(await two.verify('v_unknown', issued.token, 2000)).toBeNull();
    });

    it('display names are unique across many identities', async () => {
      const { gateway } = await open();
      const store = new IdentityStore(gateway().identities);
      const made = await Promise.all(Array.from({ length: 200 }, (_, i) => store.create(i)));
      expect(new Set(made.map((m) => m.displayName)).size).toBe(200);
    });

    it('forgets identities past their lifetime unless they did verified work (rule I8)', async () => {
      const { gateway } = await open();
      const { identities, reputations } = gateway();
      const now = Date.now();
      const row = (volunteerId: string, displayName: string) => ({
        volunteerId,
        tokenSha256: hashToken(volunteerId),
        displayName,
        createdAt: now,
      });
      expect(await identities.insert(row('v_idle', 'Idle Newt'), 200)).toBe(true);
      expect(await identities.insert(row('v_worker', 'Busy Wren'), 200)).toBe(true);
      // Verified work: what verification records, and what the identity room is told.
      reputations.put('v_worker', { ...NEW_REPUTATION, streak: 1, verified: 1 });
      await reputations.flush();
      await identities.keep('v_worker');
      await new Promise((r) => setTimeout(r, 300));
      await identities.expire(Date.now() - 200);
      expect(await identities.get('v_idle')).toBeNull();
      expect((await identities.get('v_worker'))?.displayName).toBe('Busy Wren');
      // The name of a forgotten identity can be issued again.
      expect(await identities.insert(row('v_new', 'Idle Newt'))).toBe(true);
    });

    it('keeps at most `namesKept` display names in memory; a forgotten one is read again', async () => {
      const { gateway } = await open();
      const store = new IdentityStore(gateway().identities, undefined, { namesKept: 3 });
      const made = [];
      for (let i = 0; i < 10; i++) made.push(await store.create(i));
      expect(store.namesHeld).toBe(3);
      const first = made[0]!;
      await until(() => store.displayName(first.volunteerId) === first.displayName);
      expect(store.namesHeld).toBe(3);
    });

    it("gives another gateway's volunteer its display name (at once or on the next call)", async () => {
      const { gateway } = await open();
      const issued = await new IdentityStore(gateway().identities).create(1);
      const other = new IdentityStore(gateway().identities);
      other.displayName(issued.volunteerId);
      await until(() => other.displayName(issued.volunteerId) === issued.displayName);
      expect(other.displayName('v_unknown')).toBe('');
    });
  });
}

export function apiKeyContract(name: string, open: OpenState): void {
  describe(`${name}: API keys`, () => {
    it('creates, resolves, lists oldest first, revokes; refuses a taken name', async () => {
      const { gateway } = await open();
      const keys = new KeyStore(gateway().keys, [{ name: 'ci', key: 'env-key-0123456789' }]);
      expect(await keys.size()).toBe(1);
      const bob = await keys.create('bob', 2000);
      const alice = await keys.create('alice', 1000);
      expect(await keys.size()).toBe(3);
      expect(await keys.resolve(alice)).toEqual({ name: 'alice', source: 'store' });
      expect(await keys.resolve(bob)).toEqual({ name: 'bob', source: 'store' });
      expect(await keys.resolve('env-key-0123456789')).toEqual({ name: 'ci', source: 'env' });
      expect(await keys.resolve('tg_not-a-key')).toBeNull();
      expect(await keys.list()).toEqual([
        { name: 'alice', createdAt: 1000 },
        { name: 'bob', createdAt: 2000 },
      ]);
      await expect(keys.create('alice')).rejects.toThrow(KeyNameError);
      await expect(keys.create('ci')).rejects.toThrow(KeyNameError);
      await expect(keys.create('bad name')).rejects.toThrow(KeyNameError);
      expect(await keys.resolve(alice)).toEqual({ name: 'alice', source: 'store' }); // untouched
      expect(await keys.revoke('alice')).toBe(true);
      expect(await keys.resolve(alice)).toBeNull();
      expect(await keys.revoke('alice')).toBe(false);
      expect((await keys.list()).map((k) => k.name)).toEqual(['bob']);
      const again = await keys.create('alice');
      expect(await keys.resolve(again)).toEqual({ name: 'alice', source: 'store' });
    });

    it('a key created on one gateway works on another at once; a revoke too', async () => {
      const { gateway } = await open();
      const one = new KeyStore(gateway().keys);
      const two = new KeyStore(gateway().keys);
      const key = await one.create('carol');
      expect(await two.resolve(key)).toEqual({ name: 'carol', source: 'store' });
      expect(await two.revoke('carol')).toBe(true);
      expect(await one.resolve(key)).toBeNull();
    });

    it('two gateways creating the same name at once: exactly one wins', async () => {
      const { gateway } = await open();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => new KeyStore(gateway().keys).create('owner')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await new KeyStore(gateway().keys).size()).toBe(1);
    });
  });
}

export function reputationContract(name: string, open: OpenState): void {
  describe(`${name}: reputation`, () => {
    it('a new volunteer has the new reputation; a stored one is read back by another gateway', async () => {
      const { gateway } = await open();
      const one = gateway().reputations;
      await one.warm('v_new');
      expect(one.get('v_new')).toEqual(NEW_REPUTATION);
      const trusted: Reputation = {
        streak: 12,
        verified: 40,
        invalid: 0,
        canaries: 3,
        trustedAt: 5000,
        quarantinedAt: null,
      };
      const banned: Reputation = {
        streak: 0,
        verified: 3,
        invalid: 1,
        canaries: 0,
        trustedAt: null,
        quarantinedAt: 7000,
      };
      one.put('v_trusted', trusted);
      one.put('v_banned', banned);
      expect(one.get('v_trusted')).toEqual(trusted); // at once, from memory
      await one.flush();
      const two = gateway().reputations;
      await two.warm('v_trusted');
      await two.warm('v_banned');
      expect(two.get('v_trusted')).toEqual(trusted);
      expect(two.get('v_banned')).toEqual(banned);
    });

    it('a volunteer that comes back to a gateway is read again: a quarantine on another gateway holds', async () => {
      const { gateway } = await open();
      const one = gateway().reputations;
      const two = gateway().reputations;
      const trusted: Reputation = {
        streak: 9,
        verified: 9,
        invalid: 0,
        canaries: 1,
        trustedAt: 5000,
        quarantinedAt: null,
      };
      await one.warm('v_moves');
      one.put('v_moves', trusted);
      await one.flush();
      // It leaves gateway one, works on gateway two, and is caught there.
      await two.warm('v_moves');
      expect(two.get('v_moves')).toEqual(trusted);
      two.put('v_moves', { ...trusted, streak: 10, verified: 10 });
      const caught: Reputation = {
        streak: 0,
        verified: 10,
        invalid: 1,
        canaries: 1,
        trustedAt: null,
        quarantinedAt: 9000,
      };
      two.put('v_moves', caught);
      await two.flush();
      // Back on gateway one, whose memory still says trusted.
      await one.warm('v_moves');
      expect(one.get('v_moves')).toEqual(caught);
    });

    it('the latest put wins', async () => {
      const { gateway } = await open();
      const one = gateway().reputations;
      for (let i = 1; i <= 20; i++) one.put('v_x', { ...NEW_REPUTATION, streak: i, verified: i });
      await one.flush();
      const two = gateway().reputations;
      await two.warm('v_x');
      expect(two.get('v_x')).toEqual({ ...NEW_REPUTATION, streak: 20, verified: 20 });
    });
  });
}
