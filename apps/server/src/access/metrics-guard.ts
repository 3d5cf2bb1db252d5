import { TabgridError } from '@tabgrid/protocol';
import { bearerKey, constantTimeEqual } from './api-key';
import type { KeyStore } from './key-store';

/**
 * Who may read `GET /metrics`: a bearer equal to `TABGRID_METRICS_TOKEN` (constant-time), or
 * any requester's API key. Without either: `401 unauthorized`.
 */
export async function checkMetricsAccess(
  authorization: string | undefined,
  metricsToken: string | undefined,
  keys: KeyStore,
): Promise<void> {
  const presented = bearerKey(authorization);
  if (presented !== null) {
    if (metricsToken !== undefined && constantTimeEqual(presented, metricsToken)) return;
    if (await keys.resolve(presented)) return;
  }
  throw new TabgridError('unauthorized', 'send Authorization: Bearer <metrics token or API key>', 401);
}
