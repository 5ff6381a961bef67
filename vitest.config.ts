import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Crash tests spawn child processes and fsync; two cores is the target machine.
    pool: 'forks',
    reporters: ['default'],
  },
});
