import { TabgridError } from '@tabgrid/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerKey, type Requester } from './api-key';
import type { KeyStore } from './key-store';
import type { OriginPolicy } from './origin-check';

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

/**
 * Every `/api/*` request (but the public description above): a foreign `Origin` is refused (`403 forbidden_origin`), then a
 * valid `Authorization: Bearer <key>` is required (`401 unauthorized`). Keys are never
 * read from cookies or query strings, so a cross-site page cannot borrow them.
 */
export function installRequesterAuth(app: FastifyInstance, keys: KeyStore, origins: OriginPolicy): void {
  app.decorateRequest('requester', null);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') && request.url !== '/api') return;
    if (!origins.allows(request.headers.origin, request.headers.host)) {
      throw new TabgridError('forbidden_origin', 'requests from this origin are not allowed', 403);
    }
    if (PUBLIC_API.test(request.url)) return;
    const key = bearerKey(request.headers.authorization);
    const requester = key ? await keys.resolve(key) : null;
    if (!requester) {
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
