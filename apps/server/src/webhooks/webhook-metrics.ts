import { Counter, type Registry } from 'prom-client';

/** What a delivery attempt came to, on /metrics. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'given_up';

/** `tabgrid_webhook_deliveries_total{outcome}` in the server's registry. */
export class WebhookMetrics {
  readonly deliveries: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.deliveries = new Counter({
      name: 'tabgrid_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered (a 2xx), retried (failed, another attempt is due later), given_up (failed, it was the last attempt).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    for (const outcome of ['delivered', 'retried', 'given_up'] as const) this.deliveries.inc({ outcome }, 0);
  }

  count(outcome: DeliveryOutcome): void {
    this.deliveries.inc({ outcome });
  }
}
