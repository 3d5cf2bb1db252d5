/**
 * Which network a volunteer connects from (rule I5): the socket's peer
 * address, or the client address `X-Forwarded-For` names when — and only
 * when — the peer is a proxy listed in `TABGRID_TRUST_PROXY`.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';

export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * A trust function for a list of proxy addresses / CIDR ranges (or the names
 * `loopback`, `linklocal`, `uniquelocal`); an empty list trusts nobody.
 *
 * @example compileTrust(['10.0.0.0/8', '127.0.0.1'])
 */
export function compileTrust(list: readonly string[]): TrustProxy {
  return list.length === 0 ? () => false : proxyaddr.compile([...list]);
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`, so one IPv4 client is one key whatever the socket family. */
const normalize = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);

/** The client address of an HTTP(S) / WebSocket upgrade request. */
export function clientAddress(request: IncomingMessage, trust: TrustProxy): string {
  return normalize(proxyaddr(request, trust) || request.socket.remoteAddress || 'unknown');
}

/** Connected volunteers per client address (rule I6). */
export class PerAddressCounter {
  private readonly counts = new Map<string, number>();

  count(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  add(address: string): void {
    this.counts.set(address, this.count(address) + 1);
  }

  remove(address: string): void {
    const n = this.count(address) - 1;
    if (n > 0) this.counts.set(address, n);
    else this.counts.delete(address);
  }
}
