import { describe, expect, it } from 'vitest';
import { newId } from './ids';

describe('newId', () => {
  it('gives distinct ids of 12 base64url characters, across refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => newId('asg'));
    for (const id of ids) expect(id).toMatch(/^asg_[\w-]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
