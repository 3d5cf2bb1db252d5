import { TabgridError } from '@tabgrid/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerKey, type Requester } from './api-key';
import type { KeyStore } from './key-store';
import type { OriginPolicy } from './origin-check';
import type { SignInThrottle } from './sign-in-throttle';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access hook on `/api/*` routes; null elsewhere. */
    requester: Requester | null;
  }
}

/** The requester of an authenticated route (the hook guarantees it). */
export function requesterOf(request: FastifyRequest): Requester {
  if (!request.requester) throw new TabgridError('unauthorized', 'an API key is required', 401);
  return request.requester;
}

/** Public under `/api`: the API's own description (`/api/openapi.json`, `/api/docs`, http/docs-routes.ts). */
const PUBLIC_API = /^\/api\/(?:openapi\.json|docs)(?:[/?]|$)/;
/** The refusal of an address that failed too many sign-ins (rule H4). */
export function throttled(seconds: number): TabgridError {
  return new TabgridError(
    'rate_limited',
    `too many invalid API keys from this address; retry in ${seconds} s`,
    429,
  );
}

/**
 * Every `/api/*` request (but the public description above): a foreign `Origin` is refused (`403 forbidden_origin`), then a
 * valid `Authorization: Bearer <key>` is required (`401 unauthorized`). Keys are never
 * read from cookies or query strings, so a cross-site page cannot borrow them. An address that
 * sent too many invalid keys is refused `429 rate_limited` with `Retry-After` (`throttle`).
 */
export function installRequesterAuth(
  app: FastifyInstance,
  keys: KeyStore,
  origins: OriginPolicy,
  throttle: SignInThrottle,
): void {
  app.decorateRequest('requester', null);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') && request.url !== '/api') return;
    if (!origins.allows(request.headers.origin, request.headers.host)) {
      throw new TabgridError('forbidden_origin', 'requests from this origin are not allowed', 403);
    }
    if (PUBLIC_API.test(request.url)) return;
    const key = bearerKey(request.headers.authorization);
    // While throttled (on any gateway, with Redis) no key is looked at.
    const wait = key ? await throttle.retryAfter(request.ip) : 0;
    if (wait > 0) {
      void reply.header('Retry-After', String(wait));
      throw throttled(wait);
    }
    const requester = key ? await keys.resolve(key) : null;
    if (!requester) {
      if (key) await throttle.failed(request.ip);
      void reply.header('WWW-Authenticate', 'Bearer realm="tabgrid"');
      throw new TabgridError(
        'unauthorized',
        key ? 'this API key is not valid' : 'send Authorization: Bearer <API key>',
        401,
      );
    }
    request.requester = requester;
  });
}
