/**
 * Test projects: `unit` (fast, pure) and `integration` (real sockets, the real
 * model). Run one with `vitest run --project unit`. The Vite app build has its
 * own `vite.config.ts`; tests use only this file.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@tabgrid/protocol': pkg('protocol'),
      '@tabgrid/detector': pkg('detector'),
      '@tabgrid/volunteer-client': pkg('volunteer-client'),
      '@tabgrid/node-runner': pkg('node-runner'),
      '@tabgrid/client': pkg('client'),
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/**/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'apps/server/test/**/*.test.ts',
            'apps/agent/test/**/*.test.ts',
            'apps/cli/test/**/*.test.ts',
            'packages/*/test/**/*.test.ts',
            'bench/**/*.test.ts',
          ],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // onnxruntime-node and sharp are native addons: separate processes, one file at a time
          // (the model already uses every core).
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
});
