/**
 * The webhook delivery queue contract (PROTOCOL.md W2–W8): one suite, run against SQLite
 * (`sqlite-webhook-queue.test.ts`) and Redis (`redis-webhook-queue.test.ts`). Only the
 * `WebhookQueue` interface is used, plus `second()` (another gateway on the same store; SQLite:
 * another handle on the same database) and `restart()` (a new process on the same data).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NewDelivery, WebhookQueue } from '../../src/webhooks/types';

export interface QueueUnderTest {
  queue: WebhookQueue;
  /** Another gateway on the same store. */
  second(): Promise<WebhookQueue>;
  /** As after a stop and a new start on the same data. */
  restart(): Promise<QueueUnderTest>;
  close(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const LEASE = 40_000;

const delivery = (jobId: string, dueAt = T0): NewDelivery => ({
  jobId,
  msgId: `msg_${jobId}`,
  url: `https://example.com/hooks/${jobId}`,
  payload: JSON.stringify({ type: 'job.completed', data: { id: jobId } }),
  dueAt,
});

export function describeWebhookQueue(name: string, open: () => Promise<QueueUnderTest>): void {
  describe(`WebhookQueue contract: ${name}`, () => {
    const opened: QueueUnderTest[] = [];
    const fresh = async () => {
      const sut = await open();
      opened.push(sut);
      return sut;
    };
    afterEach(async () => {
      for (const sut of opened.splice(0)) await sut.close();
    });

    it('answers every call with a promise, so that no caller asks which backend runs', async () => {
      const { queue } = await fresh();
      const promised = <T>(answer: Promise<T>): Promise<T> => {
        expect(answer).toBeInstanceOf(Promise);
        return answer;
      };
      await promised(queue.addTarget({ jobId: 'job-p', url: 'https://p.example/1' }, T0));
      await promised(queue.target('job-p'));
      await promised(queue.targets(10, null));
      await promised(queue.enqueue(delivery('job-p')));
      const [claim] = await promised(queue.claimDue(T0, T0 + LEASE, 10));
      await promised(queue.retry('job-p', claim!.token, T0 + 1, 'HTTP 500'));
      await promised(queue.complete('job-p', claim!.token, T0 + 2));
      await promised(queue.giveUp('job-p', claim!.token, 'HTTP 500', T0 + 2));
      await promised(queue.prune(T0, 10));
      await promised(queue.get('job-p'));
      await promised(queue.dropTarget('job-q'));
      await promised(queue.secret('candidate'));
    });

    it('keeps a pending target until its event is enqueued; a second URL does not replace the first', async () => {
      const { queue } = await fresh();
      await queue.addTarget({ jobId: 'job-a', url: 'https://a.example/1' }, T0);
      await queue.addTarget({ jobId: 'job-a', url: 'https://a.example/2' }, T0);
      expect(await queue.target('job-a')).toEqual({ jobId: 'job-a', url: 'https://a.example/1' });
      expect(await queue.target('job-b')).toBeNull();
      expect(await queue.enqueue(delivery('job-a'))).toBe(true);
      expect(await queue.target('job-a')).toBeNull();
    });

    it('lists pending targets by job id, a page at a time, and forgets dropped ones', async () => {
      const { queue } = await fresh();
      for (const id of ['job-c', 'job-a', 'job-d', 'job-b'])
        await queue.addTarget({ jobId: id, url: `https://x/${id}` }, T0);
      await queue.dropTarget('job-d');
      const first = await queue.targets(2, null);
      expect(first.map((t) => t.jobId)).toEqual(['job-a', 'job-b']);
      expect((await queue.targets(2, 'job-b')).map((t) => t.jobId)).toEqual(['job-c']);
      expect(first[0]!.url).toBe('https://x/job-a');
    });

    it('enqueues a job once (W3), from any gateway', async () => {
      const sut = await fresh();
      const other = await sut.second();
      const results = await Promise.all([
        sut.queue.enqueue(delivery('job-1')),
        other.enqueue({ ...delivery('job-1'), payload: '{"other":true}' }),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const stored = await sut.queue.get('job-1');
      expect(stored).toMatchObject({ jobId: 'job-1', msgId: 'msg_job-1', state: 'pending', attempts: 0 });
      expect(await sut.queue.enqueue(delivery('job-1'))).toBe(false);
    });

    it('claims only due deliveries, each once per lease (W8)', async () => {
      const sut = await fresh();
      const other = await sut.second();
      await sut.queue.enqueue(delivery('job-1', T0));
      await sut.queue.enqueue(delivery('job-2', T0 + 1000));
      const claims = await Promise.all([
        sut.queue.claimDue(T0, T0 + LEASE, 10),
        other.claimDue(T0, T0 + LEASE, 10),
      ]);
      const all = claims.flat();
      expect(all.map((d) => d.jobId)).toEqual(['job-1']);
      expect(all[0]).toMatchObject({
        attempts: 1,
        msgId: 'msg_job-1',
        url: 'https://example.com/hooks/job-1',
      });
      expect(JSON.parse(all[0]!.payload)).toMatchObject({ type: 'job.completed' });
      // Held by its lease: nobody claims it again before it ends, even once job-2 is due.
      const later = await other.claimDue(T0 + 2000, T0 + 2000 + LEASE, 10);
      expect(later.map((d) => d.jobId)).toEqual(['job-2']);
      expect(await sut.queue.claimDue(T0 + LEASE - 1, T0 + 2 * LEASE, 10)).toEqual([]);
    });

    it('a claim whose lease passed is claimed again as the next attempt; the old claim can record nothing', async () => {
      const { queue } = await fresh();
      await queue.enqueue(delivery('job-1'));
      const [first] = await queue.claimDue(T0, T0 + LEASE, 10);
      const [again] = await queue.claimDue(T0 + LEASE, T0 + 2 * LEASE, 10);
      expect(again).toMatchObject({ jobId: 'job-1', attempts: 2 });
      expect(again!.token).not.toBe(first!.token);
      expect(await queue.complete('job-1', first!.token, T0 + 1)).toBe(false);
      expect(await queue.retry('job-1', first!.token, T0, 'late')).toBe(false);
      expect(await queue.complete('job-1', again!.token, T0 + 1)).toBe(true);
      expect(await queue.get('job-1')).toMatchObject({ state: 'delivered', attempts: 2 });
    });

    it('retry makes the delivery due later with its error; giveUp ends it (W6, W7)', async () => {
      const { queue } = await fresh();
      await queue.enqueue(delivery('job-1'));
      const [one] = await queue.claimDue(T0, T0 + LEASE, 10);
      expect(await queue.retry('job-1', one!.token, T0 + 5000, 'HTTP 500')).toBe(true);
      expect(await queue.get('job-1')).toMatchObject({
        state: 'pending',
        attempts: 1,
        dueAt: T0 + 5000,
        lastError: 'HTTP 500',
      });
      expect(await queue.claimDue(T0 + 4999, T0 + LEASE, 10)).toEqual([]);
      const [two] = await queue.claimDue(T0 + 5000, T0 + 5000 + LEASE, 10);
      expect(two).toMatchObject({ attempts: 2, payload: one!.payload });
      expect(await queue.giveUp('job-1', two!.token, 'HTTP 502', T0 + 5001)).toBe(true);
      expect(await queue.get('job-1')).toMatchObject({ state: 'failed', attempts: 2, lastError: 'HTTP 502' });
      expect(await queue.claimDue(T0 + 10 * LEASE, T0 + 11 * LEASE, 10)).toEqual([]);
      // Decided: a later enqueue of the same job changes nothing.
      expect(await queue.enqueue(delivery('job-1'))).toBe(false);
      expect(await queue.get('job-1')).toMatchObject({ state: 'failed' });
    });

    it('a delivered event is never claimed again', async () => {
      const { queue } = await fresh();
      await queue.enqueue(delivery('job-1'));
      const [one] = await queue.claimDue(T0, T0 + LEASE, 10);
      expect(await queue.complete('job-1', one!.token, T0 + 1)).toBe(true);
      expect(await queue.complete('job-1', one!.token, T0 + 1)).toBe(false);
      expect(await queue.claimDue(T0 + 10 * LEASE, T0 + 11 * LEASE, 10)).toEqual([]);
      expect(await queue.get('job-1')).toMatchObject({ state: 'delivered', attempts: 1 });
    });

    it('prunes decided deliveries past their retention, oldest first, never a pending one', async () => {
      const { queue } = await fresh();
      for (const id of ['job-d1', 'job-d2', 'job-f', 'job-p']) await queue.enqueue(delivery(id));
      const claims = new Map((await queue.claimDue(T0, T0 + LEASE, 10)).map((c) => [c.jobId, c.token]));
      expect(await queue.complete('job-d1', claims.get('job-d1')!, T0 + 100)).toBe(true);
      expect(await queue.complete('job-d2', claims.get('job-d2')!, T0 + 300)).toBe(true);
      expect(await queue.giveUp('job-f', claims.get('job-f')!, 'HTTP 500', T0 + 200)).toBe(true);
      expect(await queue.retry('job-p', claims.get('job-p')!, T0 + 50, 'HTTP 503')).toBe(true);

      expect(await queue.prune(T0 + 100, 10)).toBe(0); // decided at T0 + 100: not before it
      expect(await queue.prune(T0 + 250, 1)).toBe(1); // the limit, oldest first
      expect(await queue.get('job-d1')).toBeNull();
      expect(await queue.get('job-f')).toMatchObject({ state: 'failed' });
      expect(await queue.prune(T0 + 10 * LEASE, 10)).toBe(2);
      expect(await queue.get('job-f')).toBeNull();
      expect(await queue.get('job-d2')).toBeNull();
      expect(await queue.get('job-p')).toMatchObject({ state: 'pending', attempts: 1 }); // never pruned
      expect(await queue.prune(T0 + 10 * LEASE, 10)).toBe(0);
    });

    it('claims at most `limit` at once, oldest due first', async () => {
      const { queue } = await fresh();
      for (let i = 5; i >= 1; i--) await queue.enqueue(delivery(`job-${i}`, T0 + i));
      const claimed = await queue.claimDue(T0 + 10, T0 + LEASE, 3);
      expect(claimed.map((d) => d.jobId)).toEqual(['job-1', 'job-2', 'job-3']);
    });

    it('survives a restart: targets, pending deliveries and their attempts (W8)', async () => {
      const sut = await fresh();
      await sut.queue.addTarget({ jobId: 'job-t', url: 'https://t.example/' }, T0);
      await sut.queue.enqueue(delivery('job-1'));
      const [one] = await sut.queue.claimDue(T0, T0 + LEASE, 10);
      await sut.queue.retry('job-1', one!.token, T0 + 5000, 'HTTP 503');
      const after = await sut.restart();
      opened.push(after);
      expect(await after.queue.target('job-t')).toEqual({ jobId: 'job-t', url: 'https://t.example/' });
      const [two] = await after.queue.claimDue(T0 + 5000, T0 + 5000 + LEASE, 10);
      expect(two).toMatchObject({ jobId: 'job-1', attempts: 2, lastError: 'HTTP 503' });
    });

    it('keeps the first generated secret (W5)', async () => {
      const sut = await fresh();
      const other = await sut.second();
      expect(await sut.queue.secret('whsec_first')).toBe('whsec_first');
      expect(await other.secret('whsec_second')).toBe('whsec_first');
      expect(sut.queue.secretLocation).toMatch(/secret/);
    });
  });
}
