import { expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { grantVolunteerConsent } from '../support/consent';

/** What `/volunteer` exposes on `window.__tabgrid` (see apps/web useVolunteer.ts). */
export interface VolunteerProbe {
  status: string;
  tasksDone: number;
  tasksFailed: number;
  lastInferenceMs: number | null;
  avgInferenceMs: number | null;
  inferenceSamplesMs: number[];
  modelLoadMs: number | null;
  modelSource: 'network' | 'cache' | null;
  /** WASM threads per inference worker. */
  numThreads: number | null;
  /** Inference workers in the tab's pool. */
  workers: number | null;
  crossOriginIsolated: boolean;
  /** The server-issued id (private to this browser profile), once joined. */
  volunteerId: string | null;
  /** The public display name shown on /live. */
  displayName: string | null;
}

/** Cold model downloads + WASM compile on a busy 2-core machine can be slow. */
const READY_TIMEOUT_MS = 75_000;

/** A volunteer tab (`/volunteer?autostart=1`). */
export class VolunteerPage {
  readonly status: Locator;
  readonly tasksDone: Locator;
  readonly modelSource: Locator;
  readonly numThreads: Locator;
  readonly poolShape: Locator;
  readonly canvas: Locator;
  readonly detectionLabels: Locator;
  readonly error: Locator;
  /** The consent / start control: its accessible name is the automation hook. */
  readonly startButton: Locator;
  readonly consentPanel: Locator;
  readonly plainStatus: Locator;
  readonly pauseButton: Locator;
  readonly resumeButton: Locator;
  readonly workersSelect: Locator;
  readonly dutySelect: Locator;
  readonly tallyToday: Locator;
  readonly tallyTotal: Locator;

  constructor(readonly page: Page) {
    this.startButton = page.getByRole('button', { name: 'Start volunteering', exact: true });
    this.consentPanel = page.getByTestId('consent-panel');
    this.plainStatus = page.getByTestId('plain-status');
    this.pauseButton = page.getByRole('button', { name: 'Pause', exact: true });
    this.resumeButton = page.getByRole('button', { name: 'Resume', exact: true });
    this.workersSelect = page.getByTestId('cpu-workers');
    this.dutySelect = page.getByTestId('cpu-duty');
    this.tallyToday = page.getByTestId('tally-today');
    this.tallyTotal = page.getByTestId('tally-total');
    this.status = page.getByTestId('volunteer-status');
    this.tasksDone = page.getByTestId('tasks-done');
    this.modelSource = page.getByTestId('model-source');
    this.numThreads = page.getByTestId('num-threads');
    this.poolShape = page.getByTestId('pool-shape');
    this.canvas = page.getByTestId('volunteer-canvas');
    this.detectionLabels = page.getByTestId('detection-label');
    this.error = page.getByTestId('volunteer-error');
  }

  /**
   * Opens a volunteer in its own browser context, so it has its own
   * IndexedDB and therefore its own server-issued identity. Consent is
   * pre-set (autostart needs it) unless `consent: false`.
   */
  static async launch(
    browser: Browser,
    query = 'autostart=1',
    options: { consent?: boolean } = {},
  ): Promise<VolunteerPage> {
    const context: BrowserContext = await browser.newContext();
    if (options.consent !== false) await grantVolunteerConsent(context);
    const volunteer = new VolunteerPage(await context.newPage());
    await volunteer.goto(query);
    return volunteer;
  }

  async goto(query = 'autostart=1'): Promise<void> {
    await this.page.goto(`/volunteer?${query}`);
  }

  /** Reads `window.__tabgrid` (undefined-safe, plain JSON). */
  async probe(): Promise<VolunteerProbe | null> {
    return this.page.evaluate(() => {
      // The root tsconfig has no DOM lib: reach the probe structurally.
      const p = (globalThis as unknown as { __tabgrid?: VolunteerProbe }).__tabgrid;
      if (!p) return null;
      return {
        status: p.status,
        tasksDone: p.tasksDone,
        tasksFailed: p.tasksFailed,
        lastInferenceMs: p.lastInferenceMs,
        avgInferenceMs: p.avgInferenceMs,
        inferenceSamplesMs: [...p.inferenceSamplesMs],
        modelLoadMs: p.modelLoadMs,
        modelSource: p.modelSource,
        numThreads: p.numThreads,
        workers: p.workers,
        crossOriginIsolated: p.crossOriginIsolated,
        volunteerId: p.volunteerId,
        displayName: p.displayName,
      };
    });
  }

  /** Waits until the model is loaded and the volunteer takes work (idle or working). */
  async waitReady(timeout = READY_TIMEOUT_MS): Promise<VolunteerProbe> {
    await expect(this.status).toHaveText(/^(idle|working)$/, { timeout });
    await expect(this.modelSource).toHaveText(/^(network|cache)$/, { timeout });
    await expect.poll(async () => (await this.probe())?.modelSource ?? null, { timeout }).not.toBeNull();
    await expect.poll(async () => (await this.probe())?.displayName ?? null, { timeout }).not.toBeNull();
    const probe = await this.probe();
    if (!probe) throw new Error('window.__tabgrid is not set on /volunteer');
    return probe;
  }

  async tasksDoneCount(): Promise<number> {
    return (await this.probe())?.tasksDone ?? 0;
  }

  /** Whether the canvas holds pixels other than the flat placeholder grey. */
  async canvasHasContent(): Promise<boolean> {
    return canvasHasContent(this.canvas);
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }
}

/** The bits of HTMLCanvasElement used here (the root tsconfig has no DOM lib). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
}

/**
 * True when a `<canvas>` is drawn on: it holds more than a handful of
 * distinct colours (the empty placeholder is one flat grey).
 */
export async function canvasHasContent(canvas: Locator): Promise<boolean> {
  return canvas.evaluate((el) => {
    const c = el as unknown as CanvasLike;
    if (c.width < 2 || c.height < 2) return false;
    const ctx = c.getContext('2d');
    if (!ctx) return false;
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    const colours = new Set<number>();
    for (let i = 0; i < data.length && colours.size < 64; i += 4 * 7) {
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    }
    return colours.size >= 64;
  });
}
