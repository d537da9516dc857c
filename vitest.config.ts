import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // One line per missing system tool (and its Debian package) instead of a wall of failures.
    globalSetup: ["tests/support/check-tools.ts"],
    // Integration tests start brokers and child processes; two cores can't run many at once.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
