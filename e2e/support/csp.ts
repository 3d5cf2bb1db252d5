import type { BrowserContext } from '@playwright/test';

/**
 * Records Content-Security-Policy violations in every page of a context: the
 * `securitypolicyviolation` DOM event (documents) and the "Refused to …" console messages
 * Chromium prints for documents and workers alike.
 */
export async function recordCspViolations(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  await context.exposeFunction('__tabgridCspViolation', (text: string) => violations.push(text));
  await context.addInitScript(() => {
    const g = globalThis as unknown as {
      addEventListener(
        type: string,
        fn: (e: { violatedDirective: string; blockedURI: string }) => void,
      ): void;
      __tabgridCspViolation(text: string): void;
    };
    g.addEventListener('securitypolicyviolation', (e) =>
      g.__tabgridCspViolation(`${e.violatedDirective} blocked ${e.blockedURI}`),
    );
  });
  context.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}
