import { describe, expect, it } from "vitest";
import { renderHtml, renderSvg, timeSegments } from "../../src/centre/trace-picture.js";
import type { ContactReport } from "../../src/centre/trace-queries.js";
import { csv, csvField, humanSeconds, renderEntries, table } from "../../src/centre/trace-render.js";
import { makeEntry } from "./generate.js";

describe("text forms", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
  ])("CSV field %j -> %j", (v, want) => {
    expect(csvField(v)).toBe(want);
  });

  it("writes CSV rows with CRLF and empty cells for null", () => {
    expect(csv(["a", "b"], [[1, null]])).toBe("a,b\r\n1,\r\n");
  });

  it.each([
    [0, "0s"],
    [45.4, "45s"],
    [125, "2m05s"],
    [900, "15m"],
    [3720, "1h02m"],
    [7200, "2h"],
    [-30, "30s"],
  ])("humanSeconds(%d) = %s", (s, want) => {
    expect(humanSeconds(s)).toBe(want);
  });

  it("aligns table columns", () => {
    expect(table(["n", "name"], [["1", "a"], ["10", "bbb"]], new Set([0]))).toBe(" n  name\n--  ----\n 1  a\n10  bbb\n");
  });

  it("prints JSON entries exactly as the wire form", () => {
    const e = makeEntry();
    expect(JSON.parse(renderEntries([e], "json", "UTC"))).toEqual([e]);
  });

  it("says so when nobody passed", () => {
    expect(renderEntries([], "table", "UTC")).toBe("(no passages)\n");
    expect(renderEntries([], "json", "UTC")).toBe("[]\n");
  });
});

describe("picture", () => {
  const H = 3_600_000;
  const T = Date.parse("2021-08-01T00:00:00Z");
  const report = (tss: number[], windowMs = 15 * 60_000): ContactReport => ({
    subject: "s",
    windowMs,
    range: { fromMs: T, toMs: T + 30 * 24 * H },
    subjectPassages: tss.map((t) => makeEntry({ tsMs: t, subject: "s" })),
    contacts: [],
  });

  it("draws one stretch per passage window, merging near ones", () => {
    const segs = timeSegments(report([T + H, T + H + 20 * 60_000, T + 10 * 24 * H]));
    expect(segs).toHaveLength(2);
    expect(segs[0]!.from).toBeLessThan(T + H - 15 * 60_000);
    expect(segs[0]!.to).toBeGreaterThan(T + H + 35 * 60_000);
  });

  it("draws the whole range when the subject did not pass", () => {
    expect(timeSegments(report([]))).toEqual([{ from: T, to: T + 30 * 24 * H, x0: 0, x1: 0 }]);
    expect(renderSvg(report([]), { zone: "UTC" })).toContain("no passages of the subject in this range");
  });

  it("escapes what it draws", () => {
    const r = { ...report([T + H]), subject: '<script>alert("x")</script>' };
    expect(renderHtml(r, { zone: "UTC" })).not.toContain("<script>");
    expect(renderSvg(r, { zone: "UTC" })).toContain("&lt;script&gt;");
  });
});
