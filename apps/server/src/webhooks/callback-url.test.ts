import { describe, expect, it } from 'vitest';
import { checkCallbackUrl, isPublicAddress, MAX_CALLBACK_URL } from './callback-url';

const strict = { allowPrivate: false, resolve: async () => ['93.184.215.14'] };

describe('callbackUrl (W1, W9)', () => {
  it('accepts an absolute http(s) URL', async () => {
    await expect(checkCallbackUrl(' https://example.com/hook?x=1 ', strict)).resolves.toBe(
      'https://example.com/hook?x=1',
    );
    await expect(checkCallbackUrl('http://127.0.0.1:9/x', { allowPrivate: true })).resolves.toBe(
      'http://127.0.0.1:9/x',
    );
  });

  it.each([
    ['', /empty/],
    ['/relative', /absolute URL/],
    ['ftp://example.com/x', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['https://user:pw@example.com/', /credentials/],
    [`https://example.com/${'a'.repeat(MAX_CALLBACK_URL)}`, /longer than/],
  ])('refuses %j', async (raw, message) => {
    await expect(checkCallbackUrl(raw, strict)).rejects.toMatchObject({ status: 400, message });
  });

  it.each([
    'http://127.0.0.1/',
    'http://10.1.2.3/',
    'http://[::1]/',
    'http://169.254.169.254/',
    'http://[::ffff:192.168.0.1]/',
  ])('refuses the private address %s unless allowed', async (raw) => {
    await expect(checkCallbackUrl(raw, strict)).rejects.toMatchObject({
      status: 400,
      message: /private, loopback or link-local/,
    });
    await expect(checkCallbackUrl(raw, { allowPrivate: true })).resolves.toBeTruthy();
  });

  it('refuses a name that resolves to a private address, or does not resolve', async () => {
    await expect(
      checkCallbackUrl('https://internal.example/', {
        allowPrivate: false,
        resolve: async () => ['93.184.215.14', '192.168.1.1'],
      }),
    ).rejects.toMatchObject({ message: /192\.168\.1\.1/ });
    await expect(
      checkCallbackUrl('https://nowhere.invalid/', {
        allowPrivate: false,
        resolve: () => Promise.reject(new Error('ENOTFOUND')),
      }),
    ).rejects.toMatchObject({ message: /does not resolve/ });
  });

  it('knows public from private addresses', () => {
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('2606:4700::1111')).toBe(true);
    for (const a of ['127.0.0.1', '0.0.0.0', '100.64.0.1', 'fe80::1', 'fd00::1', '::', 'nope'])
      expect(isPublicAddress(a)).toBe(false);
  });
});
