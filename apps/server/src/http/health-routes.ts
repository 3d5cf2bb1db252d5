import type { Health } from '@tabgrid/protocol';
import type { FastifyInstance } from 'fastify';
import type { HealthMonitor } from '../observability/health';

/**
 * `GET /healthz`: probes every dependency now (concurrent requests share one
 * run) and answers 200 `ok`, or 503 `unhealthy` naming what fails, e.g.
 * `{"status":"unhealthy","failing":[{"name":"database","error":"SQLITE_BUSY: database is locked",…}]}`.
 */
export function registerHealthRoute(
  app: FastifyInstance,
  health: HealthMonitor,
  volunteersOnline: () => number,
): void {
  app.get('/healthz', async (_request, reply) => {
    await health.checkNow();
    const failing = health.failing().map(({ name, error, since }) => ({ name, error, since }));
    const body: Health = {
      status: failing.length === 0 ? 'ok' : 'unhealthy',
      volunteersOnline: volunteersOnline(),
      dependencies: health.dependencies(),
      failing,
    };
    return reply
      .status(failing.length === 0 ? 200 : 503)
      .header('Cache-Control', 'no-store')
      .send(body);
  });
}
