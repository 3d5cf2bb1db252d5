import { expect, type Locator, type Page } from '@playwright/test';
import { JobCreatedSchema, type JobCreated } from '@tabgrid/protocol';
import { E2E_KEYS } from '../support/keys';
import { canvasHasContent } from './VolunteerPage';

/** The requester's dashboard (`/`). */
export class DashboardPage {
  readonly fileInput: Locator;
  readonly dropZone: Locator;
  readonly jobCards: Locator;
  readonly uploadError: Locator;
  readonly signedInAs: Locator;
  readonly publicCheckbox: Locator;
  readonly folderInput: Locator;
  readonly queueBanner: Locator;
  readonly rejectedFiles: Locator;
  readonly uploadSummary: Locator;

  constructor(readonly page: Page) {
    this.folderInput = page.getByTestId('folder-input');
    this.queueBanner = page.getByTestId('queue-banner');
    this.rejectedFiles = page.getByTestId('rejected-files').locator('li');
    this.uploadSummary = page.getByTestId('upload-summary');
    this.signedInAs = page.getByTestId('signed-in-as');
    this.publicCheckbox = page.getByTestId('public-checkbox');
    this.fileInput = page.getByTestId('file-input');
    this.dropZone = page.getByTestId('drop-zone');
    this.jobCards = page.getByTestId('job-card');
    this.uploadError = page.getByTestId('upload-error');
  }

  /** Opens the sign-in link (`/#key=…`, as printed on first start) and waits for the dashboard. */
  async goto(key: string = E2E_KEYS.owner.key): Promise<void> {
    await this.page.goto(`/#key=${key}`);
    await expect(this.dropZone).toBeVisible();
  }

  /** Whether the page is wider than the viewport (sideways scrolling). */
  async overflowsHorizontally(): Promise<boolean> {
    return this.page.evaluate(() => {
      const root = (
        globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }
      ).document.documentElement;
      return root.scrollWidth > root.clientWidth;
    });
  }

  /** Picks files in the file input; returns the job the page's `POST /api/jobs` created. */
  async upload(files: string | string[]): Promise<JobCreated> {
    // The dashboard's own request (it always asks for a partial upload); not an API call the
    // test made with `page.request` meanwhile.
    const response = this.page.waitForResponse((r) => {
      const url = new URL(r.url());
      return (
        r.request().method() === 'POST' &&
        url.pathname === '/api/jobs' &&
        url.searchParams.get('partial') === '1'
      );
    });
    await this.fileInput.setInputFiles(files);
    const res = await response;
    expect(res.status(), await res.text()).toBe(201);
    return JobCreatedSchema.parse(await res.json());
  }

  jobCard(id: string): JobCard {
    return new JobCard(this.page.locator(`[data-testid="job-card"][data-job-id="${id}"]`));
  }
}

export class JobCard {
  readonly status: Locator;
  readonly progress: Locator;
  readonly detectionLabels: Locator;
  readonly canvases: Locator;
  readonly scoreSlider: Locator;
  readonly scoreValue: Locator;
  readonly tiles: Locator;

  constructor(readonly root: Locator) {
    this.scoreSlider = root.getByTestId('score-slider');
    this.scoreValue = root.getByTestId('score-value');
    this.tiles = root.getByTestId('task-tile');
    this.status = root.getByTestId('job-status');
    this.progress = root.getByTestId('job-progress');
    this.detectionLabels = root.getByTestId('detection-label');
    this.canvases = root.locator('canvas');
  }

  classToggle(label: string): Locator {
    return this.root.locator(`[data-testid="class-toggle"][data-label="${label}"]`);
  }

  exportButton(format: 'coco' | 'csv' | 'json'): Locator {
    return this.root.getByTestId(`export-${format}`);
  }

  /** A tile by photo name. */
  tile(name: string): Locator {
    return this.tiles.filter({ has: this.root.page().getByTitle(name, { exact: true }) });
  }

  /** A tile's verification line (PROTOCOL.md V8): `data-verification` and `data-agreeing`. */
  verification(name: string): Locator {
    return this.tile(name).getByTestId('task-verification');
  }

  /** Boxes drawn on a canvas (its `data-boxes`, set by DetectionCanvas after drawing). */
  static boxesDrawn(canvas: Locator): Promise<number> {
    return canvas.getAttribute('data-boxes').then((v) => (v === null ? -1 : Number(v)));
  }

  /** Labels listed on the card (the text before the score). */
  async labels(): Promise<string[]> {
    const texts = await this.detectionLabels.allInnerTexts();
    return texts.map((t) => t.trim().split(/\s+/)[0] ?? '');
  }

  async canvasHasContent(index = 0): Promise<boolean> {
    return canvasHasContent(this.canvases.nth(index));
  }
}
