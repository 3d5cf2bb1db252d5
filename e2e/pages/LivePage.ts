import { expect, type Locator, type Page } from '@playwright/test';

/** The network view (`/live`). */
export class LivePage {
  readonly results: Locator;
  readonly volunteersOnline: Locator;
  readonly tasksQueued: Locator;
  readonly ackLatencyP50: Locator;
  readonly connection: Locator;

  constructor(readonly page: Page) {
    this.results = page.getByTestId('live-result');
    this.volunteersOnline = page.getByTestId('volunteers-online');
    this.tasksQueued = page.getByTestId('tasks-queued');
    this.ackLatencyP50 = page.getByTestId('ack-latency-p50');
    this.connection = page.getByTestId('live-connection');
  }

  async goto(): Promise<void> {
    await this.page.goto('/live');
    await expect(this.connection).toHaveText('connected');
  }

  /** Result cards for a photo name. */
  resultsFor(name: string): Locator {
    return this.results.filter({ hasText: name });
  }
}
