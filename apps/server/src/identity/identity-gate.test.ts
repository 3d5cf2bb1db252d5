import { describe, expect, it } from 'vitest';
import { LocalEdgeMemory } from '../edges/local-edge-memory';
import { networkOf } from '../verification/network';
import { NEW_REPUTATION, type Reputation } from '../verification/reputation';
import { IdentityGate } from './identity-gate';
import { watchReputations } from './reputation-watch';

const gate = (perHour: number, maxPending = 0) =>
  new IdentityGate({ perHour, maxPending, lifetimeMs: 86_400_000, networkOf }, new LocalEdgeMemory());

describe('IdentityGate (rules I9, I10)', () => {
  it('issues at most perHour identities per /24 per hour, then again after the hour', async () => {
    const g = gate(2);
    await g.admit('10.0.0.1', 0);
    await g.admit('10.0.0.2', 1);
    await expect(g.admit('10.0.0.3', 2)).rejects.toThrow(/at most 2 new volunteer identities per hour/);
    await g.admit('10.0.1.1', 3); // another /24
    await g.admit('10.0.0.3', 3_600_001);
  });

  it('0 means no limit', async () => {
    const g = gate(0);
    for (let i = 0; i < 1000; i++) await g.admit('10.0.0.1', i);
  });

  it('bounds the identities issued within their lifetime (the table bound)', async () => {
    const g = gate(0, 3);
    for (let i = 0; i < 3; i++) await g.admit(`10.0.${i}.1`, i);
    await expect(g.admit('10.9.9.9', 10)).rejects.toThrow(/no new volunteer identities/);
    await g.admit('10.9.9.9', 86_400_001); // the first has lived its lifetime
  });

  it('remembers a quarantine per network: a quarter of the quota, and a stricter start', async () => {
    const g = gate(8);
    g.seen('v_liar', '10.0.0.7');
    expect(await g.startsStricter('10.0.0.200', 0)).toBe(false);
    await g.quarantined('v_liar', 0);
    expect(await g.startsStricter('10.0.0.200', 1)).toBe(true);
    expect(await g.startsStricter('10.0.1.1', 1)).toBe(false);
    await g.admit('10.0.0.1', 2);
    await g.admit('10.0.0.2', 2);
    await expect(g.admit('10.0.0.3', 2)).rejects.toThrow(/at most 2 new volunteer identities/);
    expect(await g.startsStricter('10.0.0.200', 86_400_001)).toBe(false); // forgotten after a day
  });

  it("remembers a network's stall halvings for its new identities (rule V11)", async () => {
    const g = gate(0);
    g.seen('v_staller', '10.0.0.7');
    expect(await g.stallsOf('10.0.0.99', 0)).toBe(0);
    await g.stalled('v_staller', 1, 0);
    await g.stalled('v_staller', 2, 1);
    await g.stalled('v_staller', 1, 2); // recovering: the network keeps the worst
    expect(await g.stallsOf('10.0.0.99', 3)).toBe(2);
    expect(await g.stallsOf('10.0.1.1', 3)).toBe(0);
    expect(await g.stallsOf('10.0.0.99', 2 + 6 * 3_600_000)).toBe(0); // forgotten after 6 h
  });
});

describe('watchReputations', () => {
  it('reports the first verified result and a new quarantine, once each', () => {
    const rows = new Map<string, Reputation>();
    const store = {
      get: (id: string) => rows.get(id) ?? NEW_REPUTATION,
      put: (id: string, r: Reputation) => void rows.set(id, r),
    };
    const seen: string[] = [];
    watchReputations(store, {
      firstVerified: (id) => seen.push(`verified ${id}`),
      quarantined: (id) => seen.push(`quarantined ${id}`),
    });
    store.put('v1', { ...NEW_REPUTATION, streak: 1, verified: 1 });
    store.put('v1', { ...NEW_REPUTATION, streak: 2, verified: 2 });
    store.put('v1', { ...NEW_REPUTATION, verified: 2, invalid: 1, quarantinedAt: 5 });
    store.put('v1', { ...NEW_REPUTATION, verified: 2, invalid: 2, quarantinedAt: 5 });
    expect(seen).toEqual(['verified v1', 'quarantined v1']);
    expect(rows.get('v1')?.invalid).toBe(2);
  });
});
