import { describe, expect, it } from 'vitest';
import { verificationLabel } from './verificationLabel';

describe('verificationLabel', () => {
  it('names each verification with its agreeing count, and nothing when unverified', () => {
    expect(verificationLabel('replicated', 2)).toBe('verified: 2 volunteers agree');
    expect(verificationLabel('refereed', 2)).toBe('verified by the server (2 agreeing)');
    expect(verificationLabel('spot-checked', 3)).toBe('spot-checked (3 agreeing)');
    expect(verificationLabel('trusted', 1)).toBe('from a trusted volunteer');
    expect(verificationLabel(null, 0)).toBeNull();
  });
});
