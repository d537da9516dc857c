import { describe, expect, it } from "vitest";
import { renderHtml, renderSvg, timeSegments } from "../../src/centre/trace-picture.js";
import type { ContactReport } from "../../src/centre/trace-queries.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { csv, csvField, entryPageChunks, humanSeconds, jsonArrayChunks, printable, renderEntries, table, tableChunks } from "../../src/centre/trace-render.js";
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

  it.each([
    ["=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""],
    ["+1", "'+1"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tcmd", "'\tcmd"],
    ["\rcmd", "\"'\rcmd\""],
    ["a=b", "a=b"],
  ])("neutralises the spreadsheet formula %j as %j", (v, want) => {
    expect(csvField(v)).toBe(want);
  });

  it("writes a negative number as a number", () => {
    expect(csvField(-30)).toBe("-30");
  });

  it("escapes control and bidi characters for a terminal", () => {
    expect(printable("\u001b[31mred\u202eevil\u0000")).toBe("\\u001b[31mred\\u202eevil\\u0000");
    expect(csvField("\u001b[2J", { escapeCsv: true })).toBe("\\u001b[2J");
  });

  it("shows names with escapes harmlessly in the table and the JSON", () => {
    const e = makeEntry({ door: "\u001b[2J\u202emain" });
    const shown = renderEntries([e], "table", "UTC");
    expect(shown).toContain("\\u001b[2J\\u202emain");
    expect([shown.includes("\u001b"), shown.includes("\u202e")]).toEqual([false, false]);
    const json = renderEntries([e], "json", "UTC");
    expect([json.includes("\u001b"), json.includes("\u202e")]).toEqual([false, false]);
    expect(JSON.parse(json)).toEqual([e]);
  });

  it("lays out a table of 300,000 rows (no spread of every row into one call)", () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => [String(i), "x".repeat(i % 7)]);
    let lines = 0;
    for (const chunk of tableChunks(["n", "name"], rows)) lines += chunk.split("\n").length - 1;
    expect(lines).toBe(300_002);
  });

  it("writes JSON in chunks that join to JSON.stringify's text", () => {
    const es = Array.from({ length: 4321 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T00:00:00Z") + i }));
    expect([...jsonArrayChunks(es)].join("")).toBe(JSON.stringify(es, null, 2) + "\n");
  });

  it.each(["table", "csv", "json"] as const)("writes %s page by page exactly as from the whole answer", async (format) => {
    const es = Array.from({ length: 1234 }, (_, i) =>
      makeEntry({ tsMs: Date.parse("2021-08-01T00:00:00Z") + i * 997, door: i % 50 === 0 ? "a-much-longer-door-name" : "main", subject: i % 7 === 0 ? null : "001099012345" }),
    );
    async function* pages(): AsyncGenerator<EntryMessage[]> {
      for (let i = 0; i < es.length; i += 100) yield await Promise.resolve(es.slice(i, i + 100));
    }
    let paged = "";
    for await (const c of entryPageChunks(pages, format, "Asia/Ho_Chi_Minh")) paged += c;
    expect(paged).toBe(renderEntries(es, format, "Asia/Ho_Chi_Minh"));
    let none = "";
    for await (const c of entryPageChunks(async function* () {}, format, "UTC")) none += c;
    expect(none).toBe(renderEntries([], format, "UTC"));
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

  it("draws a name holding control characters as valid XML", () => {
    const r = { ...report([T + H]), subject: "a\u001b[31mb\u202ec" };
    const svg = renderSvg(r, { zone: "UTC" });
    expect(svg).toContain("a\\u001b[31mb\\u202ec");
    expect([svg.includes("\u001b"), renderHtml(r, { zone: "UTC" }).includes("\u001b")]).toEqual([false, false]);
  });

  it("escapes what it draws", () => {
    const r = { ...report([T + H]), subject: '<script>alert("x")</script>' };
    expect(renderHtml(r, { zone: "UTC" })).not.toContain("<script>");
    expect(renderSvg(r, { zone: "UTC" })).toContain("&lt;script&gt;");
  });
});
