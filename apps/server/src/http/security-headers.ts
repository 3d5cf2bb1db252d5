import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The Content-Security-Policy of every response. What the app truly needs:
 * - `script-src 'self' 'wasm-unsafe-eval'`: our bundles, and compiling onnxruntime-web's WASM;
 * - `worker-src 'self' blob:`: the inference workers (and ORT's own, which may be blob: URLs);
 * - `connect-src 'self'`: the API, `/models/`, `/ort/` and Socket.IO's WebSocket (same origin);
 * - `img-src 'self' blob: data:`: signed image URLs, dashboard images fetched with the key.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  workerSrc: ["'self'", 'blob:'],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", 'blob:', 'data:'],
  styleSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  // Not upgrade-insecure-requests: the quickstart and LAN volunteers use plain http.
  upgradeInsecureRequests: null,
};

/**
 * Security headers on every response (pages, assets, API, errors), via @fastify/helmet:
 * the CSP above, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * `X-Frame-Options: DENY`, and cross-origin isolation, which WASM threads need
 * (SharedArrayBuffer): COOP same-origin, COEP require-corp, CORP same-origin.
 * No HSTS: whoever terminates TLS in front of the server decides that.
 */
export async function installSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: { policy: 'require-corp' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    strictTransportSecurity: false,
  });
}
