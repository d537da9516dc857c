import { describe, expect, it } from "vitest";
import { nextPurgeChunk, PURGE_BUDGET_MS, PURGE_FIRST_ROWS, PURGE_MAX_ROWS, PURGE_MIN_ROWS, PURGE_TARGET_MS } from "../../src/centre/purge-pace.js";

describe("the pace of a chunked purge", () => {
  it("shrinks a chunk that took too long to what fits the target", () => {
    expect(nextPurgeChunk(10_000, 100)).toBe((10_000 * PURGE_TARGET_MS) / 100);
  });

  it("grows a fast chunk at most twofold, and never past the most rows", () => {
    expect(nextPurgeChunk(1000, 1)).toBe(2000);
    expect(nextPurgeChunk(1000, 0)).toBe(2000);
    expect(nextPurgeChunk(PURGE_MAX_ROWS, 1)).toBe(PURGE_MAX_ROWS);
  });

  it("never goes below the fewest rows, however slow", () => {
    expect(nextPurgeChunk(100, 10_000)).toBe(PURGE_MIN_ROWS);
  });

  it("keeps every chunk under the budget at a steady cost per row, from the first on", () => {
    for (const msPerRow of [0.0005, 0.01, 0.05]) {
      let rows = PURGE_FIRST_ROWS;
      for (let i = 0; i < 30; i++) {
        const ms = rows * msPerRow;
        expect(ms).toBeLessThanOrEqual(PURGE_BUDGET_MS);
        rows = nextPurgeChunk(rows, ms);
      }
    }
  });
});
