import { describe, expect, it } from 'vitest';
import { fail, ok } from './ack';
import { ERROR_CODES, isErrorCode, TabgridError, TASK_FAILURE_CODES } from './errors';

describe('isErrorCode', () => {
  it('accepts every listed code', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
  });

  it.each(['', 'NOT_FOUND', 'oops', 'toString', 'constructor', 42, null, undefined, {}, ['not_found']])(
    'rejects %j',
    (value) => {
      expect(isErrorCode(value)).toBe(false);
    },
  );

  it('task failure codes are error codes, and the list has no duplicates', () => {
    for (const code of TASK_FAILURE_CODES) expect(isErrorCode(code)).toBe(true);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});

describe('acks and TabgridError', () => {
  it('ok() and fail() build the two ack shapes', () => {
    expect(ok({ n: 1 })).toEqual({ ok: true, data: { n: 1 } });
    expect(fail('not_found', 'no such job')).toEqual({
      ok: false,
      code: 'not_found',
      message: 'no such job',
    });
  });

  it('TabgridError carries a code and an HTTP status (400 by default)', () => {
    const err = new TabgridError('not_found', 'job x does not exist', 404);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TabgridError');
    expect(err.code).toBe('not_found');
    expect(err.status).toBe(404);
    expect(new TabgridError('bad_request', 'x').status).toBe(400);
  });
});
