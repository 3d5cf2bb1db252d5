/**
 * Junk uploads against the server's memory (issue 17, part F; docs/SECURITY.md "Uploads pin
 * memory"): one key sends junk multipart uploads, N at a time, each `files` × `fileMiB`, and the
 * server process's RSS (`/proc/<pid>/status`, sampled every 50 ms) is compared with its baseline:
 * the peak growth while the uploads run, and the RSS 10 s after the last answer.
 *
 * Run: `npx tsx bench/experiments/upload-memory.ts` (about a minute; writes ~2 GB to the data dir).
 * Scenarios: 2 × 40 × 20 MiB all-or-nothing, the same with `?partial=1` (every file is read), and
 * 1 × 100 × 20 MiB with `?partial=1`.
 */
import fs from 'node:fs';
import http from 'node:http';
import { readImage } from '../../apps/server/test/support/harness';
import { benchAuth } from '../lib/bench-key';
import { startBenchServer } from '../lib/server';
import { freePort } from '../../apps/server/test/support/processes';

const MiB = 1024 * 1024;

const rssOf = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
};

/** One junk upload, streamed (the client holds one 1 MiB chunk): resolves the status, or the network error. */
function junkUpload(url: string, files: number, fileBytes: number, partial: boolean): Promise<string> {
  const boundary = 'junkboundary';
  const chunk = Buffer.alloc(MiB, 0x5a);
  const head = (i: number) =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="junk-${i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    );
  const end = Buffer.from(`--${boundary}--\r\n`);
  const length =
    Array.from({ length: files }, (_, i) => head(i).length + fileBytes + 2).reduce((a, b) => a + b, 0) +
    end.length;
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: partial ? '/api/jobs?partial=1' : '/api/jobs',
        agent: false,
        headers: {
          ...benchAuth,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    void (async () => {
      const write = (b: Buffer) =>
        req.write(b) ? Promise.resolve() : new Promise((r) => req.once('drain', r));
      try {
        for (let i = 0; i < files; i++) {
          await write(head(i));
          for (let sent = 0; sent < fileBytes; sent += chunk.length)
            await write(chunk.subarray(0, Math.min(chunk.length, fileBytes - sent)));
          await write(Buffer.from('\r\n'));
          if (req.destroyed) return;
        }
        req.end(end);
      } catch {
        /* the server closed the connection */
      }
    })();
  });
}

async function scenario(label: string, concurrent: number, files: number, partial: boolean) {
  const server = await startBenchServer({
    port: await freePort(),
    env: { TABGRID_UPLOAD_BYTES_PER_MINUTE: '0' },
  });
  try {
    // Warm-up: one real photo, so libvips and the upload path are loaded before the baseline.
    await server.upload([{ name: 'dog.jpg', bytes: readImage('dog.jpg') }]);
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = rssOf(server.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.pid))), 50);
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: concurrent }, () => junkUpload(server.url, files, 20 * MiB, partial)),
    );
    const tookS = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 10_000));
    clearInterval(sampler);
    const after = rssOf(server.pid);
    const leftover = fs.existsSync(`${server.dataDir}/images/.incoming`)
      ? fs.readdirSync(`${server.dataDir}/images/.incoming`).length
      : 0;
    console.log(
      `${label}: answers ${answers.join(',')} in ${tookS.toFixed(1)} s; RSS baseline ${(baseline / MiB).toFixed(0)} MiB, ` +
        `peak +${((peak - baseline) / MiB).toFixed(0)} MiB, 10 s after +${((after - baseline) / MiB).toFixed(0)} MiB; ` +
        `temporary files left: ${leftover}`,
    );
  } finally {
    await server.stop();
  }
}

await scenario('2 x 40 x 20 MiB junk, all-or-nothing', 2, 40, false);
await scenario('2 x 40 x 20 MiB junk, ?partial=1', 2, 40, true);
await scenario('1 x 100 x 20 MiB junk, ?partial=1', 1, 100, true);
