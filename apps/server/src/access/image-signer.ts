import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

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
 * Signed, expiring image URLs (`/img/<token>`) for results shown on `/live`, where no key can
 * be sent (an `<img>` cannot carry a header), and opaque result ids. The token is
 * `<taskId>.<expiry>` sealed with AES-256-GCM (key derived from the server secret; the IV is
 * derived from the plaintext, so one result keeps one URL while it is valid): it cannot be
 * forged or altered, and it does not reveal the task id.
 */
export class ImageSigner {
  private readonly encKey: Buffer;

  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs = IMAGE_URL_TTL_MS,
  ) {
    this.encKey = this.mac('enc', 'image-url');
  }

  private mac(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.secret).update(`${purpose}\n${value}`).digest();
  }

  /**
   * A URL that serves this task's image until about `now + ttl`. Expiry is rounded up to the
   * next whole `ttl/4` so the URL of one result stays the same for a while (browser cache).
   */
  imageUrl(taskId: string, now = Date.now()): string {
    const step = Math.max(1, Math.floor(this.ttlMs / 4));
    const exp = Math.ceil((now + this.ttlMs) / step) * step;
    const plain = `${taskId}.${exp}`;
    const iv = this.mac('iv', plain).subarray(0, 12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    const sealed = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `/img/${sealed.toString('base64url')}`;
  }

  /** The task id sealed in a token of `imageUrl`, or null when forged, altered or expired. */
  open(token: string, now = Date.now()): string | null {
    if (!/^[A-Za-z0-9_-]{40,200}$/.test(token)) return null;
    const sealed = Buffer.from(token, 'base64url');
    if (sealed.length < 12 + 16 + 3) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(12, sealed.length - 16)),
        decipher.final(),
      ]).toString('utf8');
      const dot = plain.lastIndexOf('.');
      const exp = Number(plain.slice(dot + 1));
      return dot > 0 && Number.isFinite(exp) && exp >= now ? plain.slice(0, dot) : null;
    } catch {
      return null; // authentication failed: forged or altered
    }
  }

  /** Opaque, stable id of a result (for de-duplication on the client); reveals nothing. */
  resultId(taskId: string): string {
    return `r_${this.mac('result', taskId).toString('base64url').slice(0, 22)}`;
  }
}
