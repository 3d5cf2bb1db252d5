import http from 'node:http';
import https from 'node:https';
import { useAgent } from 'request-filtering-agent';
import type { SignedHeaders } from './signer';

/** What one attempt came to (W6): a 2xx is delivered; anything else is retried. */
export type SendOutcome = { ok: true; status: number } | { ok: false; error: string };

export interface SenderOptions {
  /** Whole attempt (connect, send, response headers), ms. @defaultValue 10000 (TABGRID_WEBHOOK_TIMEOUT_MS) */
  timeoutMs: number;
  /** Send to private, loopback and link-local addresses too (TABGRID_WEBHOOK_ALLOW_PRIVATE=1). */
  allowPrivate: boolean;
}

/** Response bytes read (and thrown away) before the connection is closed. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one signed event (W5–W9). Without `allowPrivate` the connection goes through
 * `request-filtering-agent`, which checks the address the name resolved to *at connect time*
 * (so a name that resolved to a public address when the job was created and to 127.0.0.1 now —
 * DNS rebinding — is refused). Redirects are not followed (a 3xx is a failed attempt). Never
 * throws: every failure is an outcome.
 */
export function sendWebhook(
  url: string,
  headers: SignedHeaders,
  payload: string,
  options: SenderOptions,
): Promise<SendOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const body = Buffer.from(payload, 'utf8');
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      req = client.request(target, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': 'tabgrid-webhooks',
        },
        ...(options.allowPrivate ? {} : { agent: useAgent(url) }),
      });
    } catch (err) {
      finish({ ok: false, error: (err as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('error', (err) => finish({ ok: false, error: err.message }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('error', () => undefined);
      res.on('close', () => undefined);
      // The outcome is the status; the body is read only to free the connection.
      if (status >= 200 && status < 300) finish({ ok: true, status });
      else finish({ ok: false, error: `HTTP ${status}` });
      res.resume();
    });
    req.end(body);
  });
}
