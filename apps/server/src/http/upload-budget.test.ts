import { describe, expect, it } from 'vitest';
import { SignInThrottle } from '../access/sign-in-throttle';
import { LocalEdgeMemory } from '../edges/local-edge-memory';
import { RetryLaterError, UploadBudget } from './upload-budget';

describe('UploadBudget (rule H5)', () => {
  it('refuses a third upload of one key at once, with a Retry-After', () => {
    const b = new UploadBudget(2, 0);
    const end1 = b.begin('k');
    b.begin('k');
    b.begin('other');
    expect(() => b.begin('k')).toThrow(RetryLaterError);
    end1();
    end1(); // idempotent
    b.begin('k');
    expect(() => b.begin('k')).toThrow(/at most 2 uploads per key at once/);
  });

  it('counts bytes per key per minute, refilling continuously', () => {
    let now = 0;
    const b = new UploadBudget(0, 60_000, () => now);
    b.take('k', 50_000);
    b.take('other', 60_000);
    let refusal: RetryLaterError | null = null;
    try {
      b.take('k', 20_000);
    } catch (err) {
      refusal = err as RetryLaterError;
    }
    expect(refusal?.code).toBe('rate_limited');
    expect(refusal?.status).toBe(429);
    expect(refusal?.retryAfterS).toBe(10);
    now = 10_000; // 10 s: 10,000 bytes back
    b.take('k', 20_000);
  });
});

describe('SignInThrottle (rule H4)', () => {
  it('blocks an address after maxFailures in a window, until the window ends', async () => {
    let now = 0;
    const t = new SignInThrottle(new LocalEdgeMemory(), 3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(await t.retryAfter('a')).toBe(0);
      await t.failed('a');
    }
    expect(await t.retryAfter('a')).toBe(60);
    expect(await t.retryAfter('b')).toBe(0);
    now = 59_500;
    expect(await t.retryAfter('a')).toBe(1);
    now = 60_000;
    expect(await t.retryAfter('a')).toBe(0);
  });

  it('remembers at most as many addresses as its memory holds', async () => {
    const t = new SignInThrottle(new LocalEdgeMemory(2), 1, 60_000, () => 0);
    await t.failed('a');
    await t.failed('b');
    await t.failed('c');
    expect(await t.retryAfter('a')).toBe(0);
    expect(await t.retryAfter('c')).toBe(60);
  });
});
