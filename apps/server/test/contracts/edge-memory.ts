/**
 * The edge memory's contract (apps/server/src/edges/edge-memory.ts): the same tests against every
 * implementation. `open()` gives a fresh, empty memory; its `gateway()` opens another gateway's
 * view of it (the same object in one process, another connection on Redis).
 */
import { describe, expect, it } from 'vitest';
import type { EdgeMemory } from '../../src/edges/edge-memory';

export type OpenEdges = () => Promise<{ gateway: () => EdgeMemory }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function edgeMemoryContract(name: string, open: OpenEdges): void {
  describe(`${name}: edge memory`, () => {
    it('counts events in a fixed window that every gateway shares, then starts a new one', async () => {
      const { gateway } = await open();
      const [one, two] = [gateway(), gateway()];
      const now = Date.now();
      expect(await one.peek('k', now)).toBeNull();
      const first = await one.count('k', 300, now);
      expect(first.count).toBe(1);
      expect(first.endsAt).toBeGreaterThan(now);
      expect(first.endsAt).toBeLessThanOrEqual(now + 300);
      expect((await two.count('k', 300, now)).count).toBe(2);
      expect((await one.peek('k', now))?.count).toBe(2);
      expect((await two.count('other', 300, now)).count).toBe(1);
      await sleep(350);
      const later = Date.now();
      expect(await two.peek('k', later)).toBeNull();
      expect((await two.count('k', 300, later)).count).toBe(1);
    });

    it('a mark keeps its highest value until it expires, on every gateway', async () => {
      const { gateway } = await open();
      const [one, two] = [gateway(), gateway()];
      const now = Date.now();
      expect(await two.mark('m', now)).toBe(0);
      await one.raise('m', 2, 300, now);
      await two.raise('m', 1, 300, now);
      expect(await two.mark('m', now)).toBe(2);
      await two.raise('m', 3, 300, now);
      expect(await one.mark('m', now)).toBe(3);
      await sleep(350);
      expect(await one.mark('m', Date.now())).toBe(0);
    });

    it('a set is shared, says which members are new, expires after its latest addition and can be dropped', async () => {
      const { gateway } = await open();
      const [one, two] = [gateway(), gateway()];
      const now = Date.now();
      expect(await one.members('s', now)).toEqual([]);
      expect(await one.add('s', 'a', 300, now)).toEqual({ added: true, members: ['a'] });
      const again = await two.add('s', 'a', 300, now);
      expect(again.added).toBe(false);
      const b = await two.add('s', 'b', 300, now);
      expect(b.added).toBe(true);
      expect(b.members.sort()).toEqual(['a', 'b']);
      expect((await one.members('s', now)).sort()).toEqual(['a', 'b']);
      await one.drop('s');
      expect(await two.members('s', now)).toEqual([]);
      await one.add('t', 'x', 200, Date.now());
      await sleep(250);
      expect(await two.members('t', Date.now())).toEqual([]);
    });
  });
}
