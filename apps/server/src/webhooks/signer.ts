import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A Standard Webhooks secret: `whsec_` + base64 of 16 to 64 random bytes. */
const SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** Throws a clear error unless `secret` is a usable `whsec_…` secret (TABGRID_WEBHOOK_SECRET). */
export function checkWebhookSecret(secret: string, name = 'TABGRID_WEBHOOK_SECRET'): string {
  const match = SECRET.exec(secret.trim());
  const bytes = match ? Buffer.from(match[1]!, 'base64').length : 0;
  if (bytes < 16 || bytes > 64)
    throw new Error(`${name} must be "whsec_" followed by the base64 of 16 to 64 random bytes`);
  return secret.trim();
}

/** A fresh secret: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The three Standard Webhooks headers of one attempt. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs attempts as Standard Webhooks does (W5): `webhook-signature` is `v1,` + base64 of
 * HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the secret's bytes.
 * The `standardwebhooks` package does the signing, so receivers verify with the same code.
 */
export class WebhookSigner {
  private readonly webhook: Webhook;

  constructor(secret: string) {
    this.webhook = new Webhook(checkWebhookSecret(secret));
  }

  /** Headers for sending `payload` as message `msgId` at `at` (ms; the timestamp is in seconds). */
  sign(msgId: string, at: number, payload: string): SignedHeaders {
    const date = new Date(Math.floor(at / 1000) * 1000);
    return {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(at / 1000)),
      'webhook-signature': this.webhook.sign(msgId, date, payload),
    };
  }
}
