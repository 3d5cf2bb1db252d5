import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument, type OpenApiDocument } from './openapi/document';

/** The document (public, no key). */
export const OPENAPI_PATH = '/api/openapi.json';
/** The interactive reference (Swagger UI, served from this origin; public). */
export const DOCS_PREFIX = '/api/docs';

/** A route as Fastify registered it, e.g. `{ method: 'GET', url: '/api/jobs/:id' }`. */
export interface ApiRoute {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every `/api` route registered after the docs (what the OpenAPI document must describe). */
    apiRoutes: ApiRoute[];
  }
}

/** `/api/jobs/:id` -> `/api/jobs/{id}`. */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The routes of `routes` that the document does not describe (`POST /api/jobs/{id}/x`). */
export function undocumentedRoutes(routes: readonly ApiRoute[], document: OpenApiDocument): string[] {
  return routes
    .filter((r) => {
      const item = document.paths?.[openApiPath(r.url)] as Record<string, unknown> | undefined;
      return !item?.[r.method.toLowerCase()];
    })
    .map((r) => `${r.method} ${openApiPath(r.url)}`);
}

/**
 * `GET /api/openapi.json` (the document generated from the protocol's zod schemas, see
 * `openapi/`) and Swagger UI at `/api/docs` (its files from the installed package, so it works
 * offline and under the CSP of http/security-headers.ts unchanged: no inline script or style).
 * Both are public (access/requester-auth.ts lets them through without a key).
 *
 * Call before the API's routes: every `/api` route registered afterwards is recorded in
 * `app.apiRoutes`, and one the document does not describe is logged once the server is ready
 * (test/openapi.test.ts fails on it).
 */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  const document = openApiDocument();
  const routes: ApiRoute[] = [];
  app.decorate('apiRoutes', routes);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/') || route.url.startsWith(DOCS_PREFIX)) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url: route.url });
    }
  });
  app.addHook('onReady', async () => {
    const missing = undocumentedRoutes(routes, document);
    if (missing.length > 0)
      app.log.warn({ routes: missing }, 'routes missing from the OpenAPI document (http/openapi/paths.ts)');
  });

  const json = JSON.stringify(document);
  app.get(OPENAPI_PATH, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').header('Cache-Control', 'no-cache').send(json),
  );
  // Static mode: @fastify/swagger only hands our document to Swagger UI (`/api/docs/json`).
  // (`as never`: zod-openapi's and openapi-types' typings of the same OpenAPI object differ.)
  await app.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    // BaseLayout: no top bar, whose Swagger logo is an SVG with an inline <style> the CSP refuses
    // (and whose URL box is of no use here: the document is this server's).
    uiConfig: { layout: 'BaseLayout', deepLinking: true, displayRequestDuration: true },
  });
}
