import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start HTTP servers and cluster runners; two workers suit a small machine.
    maxWorkers: 2,
    minWorkers: 1
  }
})
