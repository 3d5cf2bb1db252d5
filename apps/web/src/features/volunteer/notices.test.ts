import { describe, expect, it } from 'vitest';
import { friendlyNotice, PASSING_MS } from './notices';

describe('friendlyNotice', () => {
  it('says a result rejected after a cancel in plain words, and lets it pass', () => {
    const n = friendlyNotice('result rejected (task_completed): task task_abc already failed');
    expect(n).toEqual({
      text: expect.stringMatching(/^Someone else finished that photo first/),
      clearAfterMs: PASSING_MS,
    });
    expect(n!.text).not.toMatch(/task_|rejected/);
  });
  it('keeps connection trouble on screen while it lasts', () => {
    expect(friendlyNotice('disconnected (transport close), reconnecting…')).toEqual({
      text: 'Lost the connection to the server; reconnecting…',
      clearAfterMs: null,
    });
  });
  it('has words for an unknown rejection code and nothing for no notice', () => {
    expect(friendlyNotice('result rejected (something_new): x')!.text).toBe(
      'The server did not need that result; carrying on.',
    );
    expect(friendlyNotice(null)).toBeNull();
  });
});
