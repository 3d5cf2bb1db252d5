import { describe, expect, it } from 'vitest';
import { RedisUnavailableError } from '../store/redis/job-records';
import { classifyStorageError } from './storage-errors';

describe('classifyStorageError for Redis', () => {
  it('a disconnected Redis and a read-only replica are unavailable; other replies are bugs', () => {
    expect(classifyStorageError(new RedisUnavailableError('reconnecting'))).toBe('unavailable');
    expect(classifyStorageError(new Error("READONLY You can't write against a read only replica."))).toBe(
      'unavailable',
    );
    expect(classifyStorageError(new Error('ERR wrong number of arguments for command'))).toBeNull();
    expect(classifyStorageError(new Error('SQLITE_FULL: database or disk is full'))).toBe('full');
  });
});
