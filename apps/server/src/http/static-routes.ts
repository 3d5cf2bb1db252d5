import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { errorBody } from './errors';
import type { ServedModel } from '../model-info';

/** Client-side routes of the single-page app, all answered with index.html. */
export const PAGES = ['/', '/dashboard', '/volunteer', '/live'] as const;

/** A year: for URLs whose bytes never change (content-hashed or versioned). */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the built web app (`dist/`) and the model files (`/models/`). Files with `.br` / `.gz`
 * siblings (the WASM runtime and the model, made by `scripts/install-assets.mjs`) are sent
 * precompressed to clients that accept it. Versioned or hashed URLs (`/assets/`, `/ort/<version>/`,
 * the model's `modelUrl`) are immutable; pages and other files are revalidated.
 */
export async function registerStaticRoutes(
  app: FastifyInstance,
  staticDir: string,
  model: ServedModel,
): Promise<void> {
  await app.register(fastifyStatic, {
    root: model.dir,
    prefix: '/models/',
    preCompressed: true,
    cacheControl: true,
    maxAge: 0,
  });
  app.get<{ Params: { sha256: string; file: string } }>(
    '/models/sha256/:sha256/:file',
    async (request, reply) => {
      if (request.params.sha256 !== model.sha256 || request.params.file !== model.file) {
        return reply.status(404).send(errorBody('not_found', 'no model with that hash'));
      }
      return reply
        .header('Cache-Control', IMMUTABLE)
        .sendFile(model.file, model.dir, { cacheControl: false });
    },
  );
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
  const versioned = [`${path.sep}assets${path.sep}`, `${path.sep}ort${path.sep}`];
  await app.register(fastifyStatic, {
    root: staticDir,
    prefix: '/',
    index: false,
    decorateReply: false,
    preCompressed: true,
    setHeaders(res, filePath) {
      if (versioned.some((dir) => filePath.includes(dir))) void res.header('Cache-Control', IMMUTABLE);
    },
  });
  for (const page of PAGES) {
    app.get(page, async (_request, reply) =>
      reply.header('Cache-Control', 'no-cache').sendFile('index.html', staticDir),
    );
  }
}
