/**
 * `--only=upload-memory`: junk uploads against the server's memory (issue 17, part F;
 * docs/SECURITY.md "Uploads pin memory"). One key sends junk multipart uploads, N at a time, each
 * `files` × 20 MiB, streamed by the client (it holds one 1 MiB chunk) so only the server's memory
 * is measured: the server process's RSS (`/proc/<pid>/status`, every 50 ms) against its baseline,
 * the peak growth while the uploads run and the RSS 10 s after the last answer. About a minute;
 * writes ~2 GB to the data dir (`--quick`: ~200 MB). Linux only (`/proc`).
 */
import fs from 'node:fs';
import http from 'node:http';
import { readImage } from '../../apps/server/test/support/harness';
import { benchAuth } from '../lib/bench-key';
import { startBenchServer } from '../lib/server';
import { sleep } from '../lib/stats';

const MiB = 1024 * 1024;

export interface UploadMemoryScenario {
  label: string;
  answers: string[];
  seconds: number;
  baselineMiB: number;
  peakGrowthMiB: number;
  growthAfter10sMiB: number;
  /** Files left in `images/.incoming` after the answers (0: every upload cleaned up). */
  leftoverFiles: number;
}

const rssOf = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
};

/** One junk upload, streamed: resolves the status, or the network error. */
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

async function scenario(
  port: number,
  label: string,
  concurrent: number,
  files: number,
  partial: boolean,
): Promise<UploadMemoryScenario> {
  const server = await startBenchServer({ port, env: { TABGRID_UPLOAD_BYTES_PER_MINUTE: '0' } });
  try {
    // Warm-up: one real photo, so libvips and the upload path are loaded before the baseline.
    await server.upload([{ name: 'dog.jpg', bytes: readImage('dog.jpg') }]);
    await sleep(2000);
    const baseline = rssOf(server.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.pid))), 50);
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: concurrent }, () => junkUpload(server.url, files, 20 * MiB, partial)),
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    await sleep(10_000);
    clearInterval(sampler);
    const after = rssOf(server.pid);
    const incoming = `${server.dataDir}/images/.incoming`;
    return {
      label,
      answers,
      seconds,
      baselineMiB: Math.round(baseline / MiB),
      peakGrowthMiB: Math.round((peak - baseline) / MiB),
      growthAfter10sMiB: Math.round((after - baseline) / MiB),
      leftoverFiles: fs.existsSync(incoming) ? fs.readdirSync(incoming).length : 0,
    };
  } finally {
    await server.stop();
  }
}

export async function uploadMemory(quick: boolean, port: number): Promise<UploadMemoryScenario[]> {
  const [many, most] = quick ? [4, 10] : [40, 100];
  return [
    await scenario(port, `2 x ${many} x 20 MiB junk, all-or-nothing`, 2, many, false),
    await scenario(port, `2 x ${many} x 20 MiB junk, ?partial=1`, 2, many, true),
    await scenario(port, `1 x ${most} x 20 MiB junk, ?partial=1`, 1, most, true),
  ];
}

export const renderUploadMemory = (r: UploadMemoryScenario[]): string[] => [
  'Junk uploads against server memory (issue 17 F; RSS growth over the baseline)',
  ...r.map(
    (s) =>
      `  ${s.label}: answers ${s.answers.join(',')} in ${s.seconds} s; baseline ${s.baselineMiB} MiB, ` +
      `peak +${s.peakGrowthMiB} MiB, 10 s after +${s.growthAfter10sMiB} MiB; temporary files left ${s.leftoverFiles}`,
  ),
];
