import { TabgridError } from '@tabgrid/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ImageSigner } from '../access/image-signer';
import type { JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import type { SchedulingStore } from '../store/scheduling-store';
import type { TaskRecord } from '../store/records';
import type { BlobStore } from '../storage/blob-store';
import { ID } from './jobs-routes';

interface Deps {
  store: Pick<SchedulingStore, 'findTask'>;
  access: JobAccess;
  blobs: BlobStore;
  signer: ImageSigner;
}

const gone = () => new TabgridError('not_found', 'no such image', 404);

async function sendImage(
  deps: Deps,
  reply: FastifyReply,
  task: TaskRecord,
  cacheControl: string,
): Promise<FastifyReply> {
  if ((await deps.access.get(task.jobId))?.deletedAt != null) throw gone();
  let bytes: Buffer;
  try {
    bytes = await deps.blobs.get(task.imageSha256);
  } catch {
    throw gone();
  }
  return reply
    .header('Content-Type', task.mime)
    .header('Cache-Control', cacheControl)
    .header('ETag', `"${task.imageSha256}"`)
    .send(bytes);
}

/**
 * A task's original image, two ways:
 * - `GET /api/jobs/:id/tasks/:taskId/image` with the owner's key (everyone else: 404);
 * - `GET /img/:token`, a sealed URL that expires, handed out on `/live` for results
 *   the viewer may see (an `<img>` cannot send a key). Invalid or expired: 404.
 * Images of deleted jobs are gone (404) either way.
 */
export function registerImageRoutes(app: FastifyInstance, deps: Deps): void {
  app.get<{ Params: { id: string; taskId: string } }>(
    '/api/jobs/:id/tasks/:taskId/image',
    async (request, reply) => {
      const { id, taskId } = request.params;
      const owner = requesterOf(request).name;
      const task =
        ID.test(taskId) && ID.test(id) && (await deps.access.owns(owner, id))
          ? await deps.store.findTask(taskId)
          : null;
      if (!task || task.jobId !== id)
        throw new TabgridError(
          'not_found',
          `task ${taskId.slice(0, 64)} of job ${id.slice(0, 64)} does not exist`,
          404,
        );
      return sendImage(deps, reply, task, 'private, max-age=3600');
    },
  );

  app.get<{ Params: { token: string } }>('/img/:token', async (request, reply) => {
    const taskId = deps.signer.open(request.params.token);
    const task = taskId && ID.test(taskId) ? await deps.store.findTask(taskId) : null;
    if (!task) throw gone();
    return sendImage(deps, reply, task, 'private, max-age=600');
  });
}
