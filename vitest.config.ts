import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Suites share one local kube-apiserver and one cache; run files one at a time on a 2-core machine.
    fileParallelism: false,
    reporters: ['default'],
  },
});
