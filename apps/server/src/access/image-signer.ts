import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { constantTimeEqual } from './api-key';

/** How long a signed image URL works. @defaultValue 1 hour */
export const IMAGE_URL_TTL_MS = 60 * 60 * 1000;

/**
 * The server's signing secret: 32 random bytes in `<dataDir>/secret.key` (mode 0600), created
 * on first start. Deleting the file invalidates every signed URL handed out so far.
 */
export function loadSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, 'secret.key');
  try {
    const secret = fs.readFileSync(file);
    if (secret.length >= 32) return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/**
 * Signed, expiring image URLs (`/img/<taskId>?exp=<ms>&sig=<HMAC-SHA256>`) for results shown
 * on `/live`, where no key can be sent (an `<img>` cannot carry a header), and opaque result
 * ids that do not reveal task ids.
 */
export class ImageSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs = IMAGE_URL_TTL_MS,
  ) {}

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${value}`).digest('base64url');
  }

  /**
   * A URL that serves this task's image until `now + ttl`. Expiry is rounded up to the next
   * whole `ttl/4` so the URL of one result stays the same for a while (browser cache).
   */
  imageUrl(taskId: string, now = Date.now()): string {
    const step = Math.max(1, Math.floor(this.ttlMs / 4));
    const exp = Math.ceil((now + this.ttlMs) / step) * step;
    return `/img/${taskId}?exp=${exp}&sig=${this.mac('img', `${taskId}.${exp}`)}`;
  }

  /** True when `sig` is this server's signature for `taskId` until `exp`, and `exp` has not passed. */
  verify(taskId: string, exp: string, sig: string, now = Date.now()): boolean {
    if (!/^\d{1,15}$/.test(exp) || Number(exp) < now) return false;
    return constantTimeEqual(sig, this.mac('img', `${taskId}.${exp}`));
  }

  /** Opaque, stable id of a result (for de-duplication on the client); reveals nothing. */
  resultId(taskId: string): string {
    return `r_${this.mac('result', taskId).slice(0, 22)}`;
  }
}
