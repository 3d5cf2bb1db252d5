import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { errorBody } from './errors';

/** Client-side routes of the single-page app, all answered with index.html. */
export const PAGES = ['/', '/dashboard', '/volunteer', '/live'] as const;

/** Serves the built web app (`dist/`) and the model files (`/models/`). */
export async function registerStaticRoutes(
  app: FastifyInstance,
  staticDir: string,
  modelDir: string,
): Promise<void> {
  await app.register(fastifyStatic, {
    root: modelDir,
    prefix: '/models/',
    decorateReply: false,
    cacheControl: true,
    maxAge: 0,
  });
  const built = fs.existsSync(path.join(staticDir, 'index.html'));
  if (!built) {
    app.log.warn({ staticDir }, 'web app not built: run `npm run build`');
    for (const page of PAGES) {
      app.get(page, async (_request, reply) =>
        reply.status(503).send(errorBody('internal', 'the web app is not built: run `npm run build`')),
      );
    }
    return;
  }
  await app.register(fastifyStatic, {
    root: staticDir,
    prefix: '/',
    index: false,
    setHeaders(res, filePath) {
      if (filePath.includes(`${path.sep}assets${path.sep}`)) {
        void res.header('Cache-Control', 'public, max-age=31536000, immutable');
      }
    },
  });
  for (const page of PAGES) {
    app.get(page, async (_request, reply) =>
      reply.header('Cache-Control', 'no-cache').sendFile('index.html', staticDir),
    );
  }
}
