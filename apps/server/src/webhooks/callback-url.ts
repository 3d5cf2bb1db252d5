import { lookup } from 'node:dns/promises';
import { TabgridError } from '@tabgrid/protocol';
import ipaddr from 'ipaddr.js';

/** Longest accepted `callbackUrl`, characters (W1). */
export const MAX_CALLBACK_URL = 2048;

const bad = (message: string) => new TabgridError('bad_request', `callbackUrl: ${message}`, 400);

/**
 * True for an address a webhook may be sent to when private targets are not allowed: a public
 * unicast address. Loopback, private (RFC 1918, fc00::/7), link-local, carrier-grade NAT,
 * unspecified, multicast, reserved and IPv4-mapped IPv6 addresses are refused (W9) — the
 * same ranges `request-filtering-agent` refuses at connect time.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.parse(address).range() === 'unicast';
}

/**
 * The `callbackUrl` form field, checked (W1): an absolute `http:` or `https:` URL of at most
 * {@link MAX_CALLBACK_URL} characters, without credentials. When private targets are not allowed,
 * its host (an address, or every address its name resolves to now) must be public (W9); the check
 * is made again on the address actually connected to, at every attempt (sender.ts).
 *
 * @example await checkCallbackUrl('https://example.com/hooks/tabgrid', { allowPrivate: false })
 */
export async function checkCallbackUrl(
  raw: string,
  options: { allowPrivate: boolean; resolve?: (host: string) => Promise<string[]> },
): Promise<string> {
  const value = raw.trim();
  if (value === '') throw bad('is empty; leave the field out for no webhook');
  if (value.length > MAX_CALLBACK_URL) throw bad(`longer than ${MAX_CALLBACK_URL} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('is not an absolute URL (e.g. https://example.com/hooks/tabgrid)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw bad(`must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username !== '' || url.password !== '')
    throw bad('may not carry credentials; authenticate events by their signature');
  if (!options.allowPrivate) {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = ipaddr.isValid(host)
      ? [host]
      : await (options.resolve ?? resolveAll)(host).catch(() => {
          throw bad(`host ${host} does not resolve`);
        });
    const refused = addresses.find((a) => !isPublicAddress(a));
    if (refused !== undefined || addresses.length === 0)
      throw bad(
        `host ${host} is a private, loopback or link-local address (${refused ?? 'none'}); ` +
          'the server sends webhooks to public addresses only (TABGRID_WEBHOOK_ALLOW_PRIVATE=1 lifts that)',
      );
  }
  return url.href;
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}
