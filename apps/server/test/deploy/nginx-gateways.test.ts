/**
 * The front proxy as shipped (`deploy/nginx/tabgrid.conf`, issue 19): Debian's nginx started on
 * that file with only its gateway addresses and listen port replaced, in front of three gateway
 * processes on one Redis. Everything goes through nginx: the upload, the job polls, and the agent's
 * Socket.IO connection (WebSocket upgrade). Mid-job the gateway holding the agent is killed
 * (`kill -9`); the agent reconnects through nginx to another gateway (passive health checks:
 * the dead one refuses connections and nginx tries the next), nginx keeps answering every poll
 * (proxy_next_upstream), and the job finishes with the detections of an undisturbed run.
 *
 * Needs `nginx` (Debian's package; `.ci/run` installs it) and `redis-server`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Detection, JobView } from '@tabgrid/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_THREADS, batchPhotos, referenceDetections, sampleOf, uploadPhotos } from '../faults/batch';
import { REPO_ROOT, bearer, sleep } from '../support/harness';
import {
  freePort,
  killAll,
  poll,
  startAgentProcess,
  startServerProcess,
  tmpDir,
  type Child,
} from '../support/processes';
import { startRedis, type TestRedis } from '../support/redis';

const PHOTOS = 30;
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? whichNginx();

function whichNginx(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || null : null;
}

/**
 * `deploy/nginx/tabgrid.conf` for this test: its gateways (`server 10.0.0.1N:8080`, in both
 * upstreams) become 127.0.0.1 ports, its `listen 80` a loopback port; nothing else changes. The
 * surrounding nginx.conf is what Debian's gives a conf.d file, with every path in `prefix`.
 */
function renderNginx(prefix: string, listenPort: number, gatewayPorts: number[]): string {
  const shipped = fs.readFileSync(path.join(REPO_ROOT, 'deploy/nginx/tabgrid.conf'), 'utf8');
  let servers = 0;
  const site = shipped
    .replace(/server 10\.0\.0\.1(\d):8080/g, (_m, n: string) => {
      servers++;
      const port = gatewayPorts[Number(n) - 1];
      if (port === undefined) throw new Error(`no port for gateway ${n}`);
      return `server 127.0.0.1:${port}`;
    })
    .replace(/^\s*listen \[::\]:80;\n/m, '')
    .replace(/listen 80;/, `listen 127.0.0.1:${listenPort};`);
  if (servers !== 2 * gatewayPorts.length)
    throw new Error(`expected 2 upstreams of 3 servers, replaced ${servers}`);
  fs.writeFileSync(path.join(prefix, 'tabgrid.conf'), site);
  for (const dir of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(prefix, dir));
  const conf = `
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  log_format upstreams '$status $request_method $uri upstream=$upstream_addr upstream_status=$upstream_status';
  access_log ${prefix}/access.log upstreams;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/tabgrid.conf;
}
`;
  const file = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(file, conf);
  // The workers run as `nobody` when the master is root: let them write their temp files.
  for (const entry of fs.readdirSync(prefix)) fs.chmodSync(path.join(prefix, entry), 0o777);
  fs.chmodSync(prefix, 0o777);
  return file;
}

let redis: TestRedis;
let reference: Map<string, Detection[]>;
let nginx: ChildProcess | null = null;

beforeAll(async () => {
  if (!NGINX) return;
  [redis, reference] = await Promise.all([startRedis(), referenceDetections()]);
});
afterAll(async () => {
  nginx?.kill('SIGQUIT');
  await killAll();
  await redis?.stop();
});

async function volunteersOnline(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: bearer(), signal: AbortSignal.timeout(3000) });
  const line = (await res.text()).split('\n').find((l) => l.startsWith('tabgrid_volunteers_online '));
  return Number(line?.split(' ')[1] ?? 0);
}

if (!NGINX) console.warn('[nginx] skipped: no nginx binary (apt-get install nginx; .ci/run installs it)');

describe.skipIf(!NGINX)('deploy/nginx/tabgrid.conf in front of three gateways', () => {
  it(
    'runs a job through nginx with an agent connected through nginx while its gateway is killed',
    { timeout: 360_000 },
    async () => {
      const blobDir = tmpDir('tabgrid-nginx-blobs-');
      const [nginxPort, ...gatewayPorts] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const gatewayUrls = gatewayPorts.map((p) => `http://127.0.0.1:${p}`);
      const front = `http://127.0.0.1:${nginxPort}`;
      const gateways: Child[] = await Promise.all(
        [0, 1, 2].map((i) =>
          startServerProcess(
            `gateway ${i + 1}`,
            {
              port: gatewayPorts[i]!,
              dataDir: tmpDir(`tabgrid-nginx-gw${i + 1}-`),
              env: {
                TABGRID_REDIS_URL: redis.url,
                TABGRID_BLOB_DIR: blobDir,
                TABGRID_GATEWAY_ID: `gw${i + 1}`,
                TABGRID_LEASE_MS: '3000',
                TABGRID_TRUST_PROXY: '127.0.0.1',
              },
            },
            150_000,
          ),
        ),
      );

      const prefix = tmpDir('tabgrid-nginx-');
      const conf = renderNginx(prefix, nginxPort!, gatewayPorts);
      const check = spawnSync(NGINX!, ['-t', '-p', prefix, '-c', conf], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      nginx = spawn(NGINX!, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
      const log = (file: string) => {
        try {
          return fs.readFileSync(path.join(prefix, file), 'utf8').slice(-4000);
        } catch {
          return '';
        }
      };
      const context = () =>
        `nginx error.log:\n${log('error.log')}\nnginx access.log:\n${log('access.log')}\n` +
        gateways.map((g) => `${g.name}:\n${g.output().slice(-2000)}`).join('\n');
      await poll(() => fs.existsSync(path.join(prefix, 'nginx.pid')), 10_000, 'nginx to start', context);
      for (let ok = false; !ok;) {
        ok = await fetch(`${front}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ok) await sleep(50);
      }

      // One agent, connected through nginx (WebSocket upgrade on /socket.io/).
      const agent = startAgentProcess('agent', front, ['--threads', String(AGENT_THREADS)]);
      await poll(
        () => agent.volunteerId() !== null && agent.output().includes('model ready'),
        150_000,
        'the agent to connect through nginx and load the model',
        () => `${agent.output()}\n${context()}`,
      );
      let holder = -1;
      for (const deadline = Date.now() + 30_000; holder < 0 && Date.now() < deadline; await sleep(100)) {
        const online = await Promise.all(gatewayUrls.map(volunteersOnline));
        if (online.reduce((a, b) => a + b, 0) === 1) holder = online.indexOf(1);
      }
      expect(holder, `the agent on exactly one gateway\n${context()}`).toBeGreaterThanOrEqual(0);

      // The job goes in through nginx, and is watched through nginx.
      const photos = await batchPhotos(PHOTOS);
      const up = await uploadPhotos(front, photos);
      expect(up.status, up.body).toBe(201);
      const jobId = up.job!.id;
      const statuses: number[] = [];
      const view = async (): Promise<JobView | null> => {
        const res = await fetch(`${front}/api/jobs/${jobId}`, {
          headers: bearer(),
          signal: AbortSignal.timeout(10_000),
        });
        statuses.push(res.status);
        return res.status === 200 ? ((await res.json()) as JobView) : null;
      };
      const done = (v: JobView | null) => v?.tasks.filter((t) => t.status === 'done').length ?? 0;

      let last: JobView | null = null;
      for (const deadline = Date.now() + 120_000; done(last) < 5; await sleep(100)) {
        if (Date.now() > deadline) throw new Error(`no 5 results in 120 s\n${context()}`);
        last = await view();
      }
      expect(done(last), 'still mid-job when the gateway is killed').toBeLessThan(PHOTOS);

      // kill -9 the agent's gateway.
      const killedAt = Date.now();
      await gateways[holder]!.kill('SIGKILL');
      statuses.length = 0;
      let final: JobView | undefined;
      for (const deadline = Date.now() + 180_000; ; await sleep(250)) {
        const v = await view();
        if (v && done(v) === PHOTOS) {
          final = v;
          break;
        }
        if (Date.now() > deadline)
          throw new Error(
            `job not done 180 s after the kill (${done(v)}/${PHOTOS})\n${agent.output()}\n${context()}`,
          );
      }
      const finishedMs = Date.now() - killedAt;

      // Every poll after the kill was answered by a live gateway (nginx retried the dead one).
      expect(
        statuses.filter((s) => s !== 200),
        context(),
      ).toEqual([]);
      // The agent reconnected through nginx, to a live gateway.
      const connects = agent
        .output()
        .split('\n')
        .filter((l) => / connected to /.test(l)).length;
      expect(connects, agent.output()).toBeGreaterThanOrEqual(2);
      const online = await Promise.all(gatewayUrls.filter((_u, i) => i !== holder).map(volunteersOnline));
      expect(online.reduce((a, b) => a + b, 0)).toBe(1);
      // The detections of an undisturbed run.
      expect(final.tasks).toHaveLength(PHOTOS);
      for (const t of final.tasks) expect(t.detections, t.name).toEqual(reference.get(sampleOf(t.name)));
      const access = fs.readFileSync(path.join(prefix, 'access.log'), 'utf8');
      const retried = access.split('\n').filter((l) => /upstream=\S+, /.test(l)).length;
      console.log(
        `[nginx] gateway ${holder + 1} (the agent's) killed after ${done(last)}/${PHOTOS} results; ` +
          `job done ${finishedMs} ms later; ${connects} agent connects; ${retried} requests retried on another gateway`,
      );
    },
  );
});
