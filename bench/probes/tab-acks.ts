/**
 * `--only=tab-acks`: two Chromium tabs on this machine's cores (the product's worker pool:
 * `min(cores, 4)` single-thread inference workers per tab), verification on, single-photo jobs
 * one after another (issue 18, "Tabs"). Then a lone new tab on a fresh server.
 *
 * The server writes each offer's emit and ack times (`TABGRID_ACK_TRACE`), the tabs keep each
 * offer's receive and ack-sent times, each inference's span and their socket worker's event-loop
 * stalls (`?measure=1`); all are `Date.now()` ms on one clock, joined by assignment id, so an ack's time
 * splits into down (emit -> the worker's handler), in the tab (handler -> ack written) and up
 * (ack written -> the server's ack callback).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from '@playwright/test';
import type { JobView } from '@tabgrid/protocol';
import { grantVolunteerConsent } from '../../e2e/support/consent';
import { launchBrowser, readPhoto } from '../lib/browser';
import { startBenchServer, type BenchServer } from '../lib/server';
import { summarize, type Summary } from '../lib/stats';
import { sampleImage } from '../../scripts/assets';

declare const window: {
  __tabgrid?: {
    modelLoadMs: number | null;
    workers: number | null;
    measures(): Promise<MeasureReport | null>;
  };
};

/** The tab's `MeasureReport` (apps/web/src/features/volunteer/shared/api.ts), the fields read here. */
interface MeasureReport {
  offers: { assignmentId: string; headerAt: number; receivedAt: number; ackSentAt: number }[];
  inferences: { assignmentId: string; start: number; end: number }[];
  stalls: { at: number; ms: number }[];
}

interface ServerRow {
  assignmentId: string;
  volunteerId: string;
  sentAt: number;
  ackAt: number;
}

export interface TabAcksResult {
  workersPerTab: number[];
  singles: number;
  /** API timings ackedAt - assignedAt of every task (as the end-to-end section). */
  ackApiMs: Summary;
  /**
   * Per offer, from the traces: emit -> ack callback, and its three parts: emit -> the packet's
   * frame in the socket worker (`frame`), -> the ack written (`toAck`), -> the server's callback
   * (`up`). `imageMs`: the packet's frame -> the whole message (image) in the handler.
   */
  ackMs: Summary;
  frameMs: Summary;
  toAckMs: Summary;
  upMs: Summary;
  imageMs: Summary;
  /** The slowest 5 % of acks: their parts' means, and how many arrived while that tab was inferring. */
  tail: {
    n: number;
    frameMs: number;
    toAckMs: number;
    upMs: number;
    imageMs: number;
    /** The socket worker's longest event-loop stall between the emit and the handler (mean over the tail). */
    stallMs: number;
    duringInference: number;
  };
  /** Socket worker event-loop stalls (> 4 ms late on a 5 ms timer) over the run, both tabs. */
  stalls: { n: number; p99Ms: number; maxMs: number };
  /** completedAt - submittedAt of the singles, by how they were verified. */
  resultNewMs: Summary;
  resultTrustedMs: Summary;
  verifications: Record<string, number>;
  /** A lone new tab on a fresh server: upload -> final of its single photos. */
  loneMs: Summary;
  loneVerifications: string[];
  /** The server's referee inferences during the two-tab run, by purpose (settle, canary…). */
  referee: Record<string, number>;
  /** Every joined offer (ms from its emit; tab index), for a closer look in results.json. */
  rows: {
    tab: number;
    sentAt: number;
    ack: number;
    down: number;
    inTab: number;
    toAck: number;
    up: number;
    inferring: boolean;
  }[];
}

async function openTab(browser: Browser, server: BenchServer): Promise<Page> {
  const context = await browser.newContext();
  await grantVolunteerConsent(context);
  const page = await context.newPage();
  await page.goto(`${server.url}/volunteer?autostart=1&measure=1`);
  await page.waitForFunction(() => window.__tabgrid?.modelLoadMs != null, undefined, { timeout: 180_000 });
  return page;
}

async function singles(server: BenchServer, photo: Uint8Array, n: number): Promise<JobView[]> {
  const done: JobView[] = [];
  for (let i = 0; i < n; i++) {
    const job = await server.upload([{ name: `single-${i}.jpg`, bytes: photo }]);
    done.push(await server.waitForJob(job.id, 60_000, 10));
  }
  return done;
}

const latency = (jobs: JobView[]) =>
  jobs.flatMap((j) => j.tasks.map((t) => (t.timings.completedAt ?? NaN) - (t.timings.submittedAt ?? NaN)));
const mean = (v: number[]) =>
  v.length ? Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 10) / 10 : NaN;

export async function tabAcks(quick: boolean, port: number): Promise<TabAcksResult> {
  const photo = readPhoto(sampleImage('bus.jpg'));
  const n = quick ? 8 : 40;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-ack-trace-'));
  const traceFile = path.join(dir, 'acks.jsonl');
  const env = { TABGRID_ACK_TRACE: traceFile, TABGRID_DISTINCT_NETWORKS: '0' };
  const browser = await launchBrowser();
  try {
    const server = await startBenchServer({ port, env });
    let jobs: JobView[];
    let reports: MeasureReport[];
    let workersPerTab: number[];
    let referee: Record<string, number> = {};
    try {
      const pages = [await openTab(browser, server), await openTab(browser, server)];
      workersPerTab = await Promise.all(pages.map((p) => p.evaluate(() => window.__tabgrid!.workers ?? 0)));
      jobs = await singles(server, photo, n);
      reports = await Promise.all(pages.map((p) => p.evaluate(() => window.__tabgrid!.measures()))).then(
        (r) => r.map((x) => x ?? { offers: [], inferences: [], stalls: [] }),
      );
      await Promise.all(pages.map((p) => p.context().close()));
      const m = await server.metrics();
      referee = Object.fromEntries(
        [...m]
          .filter(([k]) => k.startsWith('tabgrid_referee_inferences_total'))
          .map(([k, v]) => [k.slice(33), v]),
      );
    } finally {
      await server.stop();
    }
    const rows = readFileSync(traceFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ServerRow);
    const byId = new Map(rows.map((r) => [r.assignmentId, r]));
    const joined = reports.flatMap((rep, tab) =>
      rep.offers.flatMap((o) => {
        const s = byId.get(o.assignmentId);
        if (!s) return [];
        const inferring = rep.inferences.some((i) => i.start <= o.receivedAt && o.receivedAt <= i.end);
        // The socket worker's longest stall that overlaps this offer's way down.
        const stall = Math.max(
          0,
          ...rep.stalls.filter((st) => st.at > s.sentAt && st.at - st.ms < o.receivedAt).map((st) => st.ms),
        );
        return [
          {
            tab,
            sentAt: s.sentAt,
            ack: s.ackAt - s.sentAt,
            down: o.receivedAt - s.sentAt,
            header: o.headerAt - s.sentAt,
            body: o.receivedAt - o.headerAt,
            toAck: o.ackSentAt - o.headerAt,
            stall,
            inTab: o.ackSentAt - o.receivedAt,
            up: s.ackAt - o.ackSentAt,
            inferring,
          },
        ];
      }),
    );
    const slow = [...joined]
      .sort((a, b) => b.ack - a.ack)
      .slice(0, Math.max(1, Math.ceil(joined.length / 20)));
    const stalls = reports.flatMap((r) => r.stalls.map((s) => s.ms));
    const verifications: Record<string, number> = {};
    for (const j of jobs)
      for (const t of j.tasks)
        verifications[String(t.verification)] = (verifications[String(t.verification)] ?? 0) + 1;
    const isNew = (j: JobView) => ['replicated', 'refereed'].includes(String(j.tasks[0]?.verification));

    // A lone new tab on a fresh server.
    const lone = await startBenchServer({ port: port + 1, env: { TABGRID_DISTINCT_NETWORKS: '0' } });
    let loneJobs: JobView[];
    try {
      const page = await openTab(browser, lone);
      loneJobs = await singles(lone, photo, quick ? 2 : 5);
      await page.context().close();
    } finally {
      await lone.stop();
    }

    return {
      workersPerTab,
      singles: n,
      ackApiMs: summarize(
        jobs.flatMap((j) => j.tasks.map((t) => (t.timings.ackedAt ?? NaN) - (t.timings.assignedAt ?? NaN))),
      ),
      ackMs: summarize(joined.map((j) => j.ack)),
      frameMs: summarize(joined.map((j) => j.header)),
      toAckMs: summarize(joined.map((j) => j.toAck)),
      upMs: summarize(joined.map((j) => j.up)),
      imageMs: summarize(joined.map((j) => j.body)),
      tail: {
        n: slow.length,
        frameMs: mean(slow.map((s) => s.header)),
        toAckMs: mean(slow.map((s) => s.toAck)),
        upMs: mean(slow.map((s) => s.up)),
        imageMs: mean(slow.map((s) => s.body)),
        stallMs: mean(slow.map((s) => s.stall)),
        duringInference: slow.filter((s) => s.inferring).length,
      },
      stalls: {
        n: stalls.length,
        p99Ms: summarize(stalls).p99,
        maxMs: summarize(stalls).max,
      },
      resultNewMs: summarize(latency(jobs.filter(isNew))),
      resultTrustedMs: summarize(latency(jobs.filter((j) => !isNew(j)))),
      verifications,
      loneMs: summarize(latency(loneJobs)),
      loneVerifications: loneJobs.map((j) => String(j.tasks[0]?.verification)),
      referee,
      rows: joined,
    };
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const renderTabAcks = (r: TabAcksResult): string[] => {
  const s = (x: Summary) => `p50 ${x.p50} / p99 ${x.p99} (n ${x.n})`;
  return [
    `Tabs (2 x ${r.workersPerTab.join('+')} workers, ${r.singles} singles, verification on):`,
    `  ack (API) ${s(r.ackApiMs)}; per offer ${s(r.ackMs)}`,
    `  emit -> frame ${s(r.frameMs)}; -> ack written ${s(r.toAckMs)}; -> server ${s(r.upMs)}`,
    `  frame -> image in ${s(r.imageMs)}`,
    `  slowest ${r.tail.n}: frame ${r.tail.frameMs} + to ack ${r.tail.toAckMs} + up ${r.tail.upMs} ms ` +
      `(image in ${r.tail.imageMs}, worker stall ${r.tail.stallMs}); ` +
      `${r.tail.duringInference} while that tab inferred`,
    `  socket worker stalls: ${r.stalls.n}, p99 ${r.stalls.p99Ms} ms, max ${r.stalls.maxMs} ms`,
    `  result new ${s(r.resultNewMs)}; trusted ${s(r.resultTrustedMs)}; ${JSON.stringify(r.verifications)}`,
    `  lone new tab, upload -> final ${s(r.loneMs)}; ${r.loneVerifications.join(', ')}`,
    `  referee inferences (two tabs): ${JSON.stringify(r.referee)}`,
  ];
};
