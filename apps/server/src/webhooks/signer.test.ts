import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config';
import { checkWebhookSecret, newWebhookSecret, WebhookSigner } from './signer';

describe('webhook signer (W5)', () => {
  it('signs what standardwebhooks verifies: v1, base64 HMAC-SHA256 over id.timestamp.body', () => {
    const secret = newWebhookSecret();
    const body = '{"type":"job.completed"}';
    const at = Date.now();
    const headers = new WebhookSigner(secret).sign('msg_job_1', at, body);
    expect(headers['webhook-id']).toBe('msg_job_1');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual({ type: 'job.completed' });
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });

  it('accepts only whsec_ secrets of 16 to 64 bytes, and so does the configuration', () => {
    expect(newWebhookSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const ok = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    expect(checkWebhookSecret(ok)).toBe(ok);
    for (const bad of [
      'secret',
      'whsec_',
      `whsec_${Buffer.alloc(8).toString('base64')}`,
      'whsec_not base64!',
    ])
      expect(() => checkWebhookSecret(bad)).toThrow(/TABGRID_WEBHOOK_SECRET must be "whsec_"/);
    expect(loadConfig({ TABGRID_WEBHOOK_SECRET: ok }).webhookSecret).toBe(ok);
    expect(() => loadConfig({ TABGRID_WEBHOOK_SECRET: 'hunter2' })).toThrow(/whsec_/);
    expect(loadConfig({}).webhookSecret).toBeNull();
    expect(loadConfig({ TABGRID_WEBHOOK_ALLOW_PRIVATE: '1', TABGRID_WEBHOOK_RETRY_MS: '200' })).toMatchObject(
      {
        webhookAllowPrivate: true,
        webhookRetryMs: 200,
        webhookPollMs: 200,
      },
    );
  });
});
