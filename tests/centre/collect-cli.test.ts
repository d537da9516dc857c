/**
 * `qrgate collect` as a process (the built CLI, dist/src/cli/main.js: `npm test` builds first): zero set-up with
 * no `--db`, orderly stop on SIGTERM, and nothing lost when it is SIGKILLed in the middle of a burst.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EntryStore } from "../../src/centre/entry-store.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, publishEntries, waitFor } from "./mqtt-support.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

const CLI = resolve(import.meta.dirname, "../../dist/src/cli/main.js");

let broker: TestBroker;
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  broker = await startBroker();
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

afterAll(async () => {
  await broker.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "qrgate-collect-cli-"));
  dirs.push(d);
  return d;
}

interface Running {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts `qrgate collect …` and resolves once it logs that it is collecting. */
async function collect(args: string[], cwd: string): Promise<Running> {
  const child = spawn(process.execPath, [CLI, "collect", "--url", broker.url, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const lines: string[] = [];
  let buf = "";
  child.stderr.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  await waitFor("the collector to subscribe", () => lines.some((l) => l.includes('"msg":"collecting"')) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`collect exited ${child.exitCode}: ${lines.join("\n")}`);
  return { child, lines, exited };
}

function stats(lines: string[]): Record<string, number> {
  const l = lines.find((x) => x.includes('"msg":"stopped"'));
  return l === undefined ? {} : (JSON.parse(l) as Record<string, number>);
}

it("with no --db keeps qrgate-centre.db beside it, and stops cleanly on SIGTERM", async () => {
  const dir = tempDir();
  const run = await collect(["--group", "zero", "--client-id", "zero-setup"], dir);
  const pub = await connectPublisher(broker.url);
  const entries = Array.from({ length: 20 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i, subject: subjectId(i) }));
  await publishEntries(pub, entries);
  await pub.endAsync();
  const db = join(dir, "qrgate-centre.db");
  await waitFor("the database file", () => existsSync(db));
  const store = new SqliteEntryStore(db, { readonly: true });
  try {
    await waitFor("20 entries", async () => (await store.countEntries()) === 20);
  } finally {
    await store.close();
  }
  run.child.kill("SIGTERM");
  expect(await run.exited).toBe(0);
  expect(stats(run.lines)).toMatchObject({ entriesNew: 20, rejected: 0 });
  const counts = run.lines.filter((l) => l.includes('"msg":"counts"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(counts.at(-1)).toMatchObject({ stored: 20, duplicate: 0, rejected: 0 });
});

it("prints its options with --help", async () => {
  const child = spawn(process.execPath, [CLI, "collect", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  expect(code).toBe(0);
  expect(out).toContain("--retention-days");
});

it.each([
  [["--url", "mqtt://x", "--batch-max", "zero"], "--batch-max"],
  [["--url", "mqtt://x", "--receive-maximum", "70000"], "at most 65535"],
  [["--url", "mqtt://x", "--max-held", "0"], "--max-held"],
  [["--url", "http://x"], "expected mqtt://"],
  [["--url", "not a url"], "is not a URL"],
  [["--url", "mqtt://127.0.0.1:1", "--db", "/nonexistent-dir/sub/centre.db"], "does not exist"],
  [["--url", "mqtt://127.0.0.1:1", "--db", "/"], "is a folder"],
  [["--url", "mqtt://127.0.0.1:1", "--db", "postgres://root@127.0.0.1/test?schema=Bad-Name"], "schema"],
  [["--url", "mqtt://127.0.0.1:1", "--group", "a\u001b[31m"], "\\u001b"],
  [["--url", "mqtt://127.0.0.1:1", "--root", "qrgate/#"], "no wildcards"],
  [["--url", "mqtt://127.0.0.1:1", "--client-id", "a b"], "--client-id"],
])("refuses %j with one line and exit 2, no stack trace", async (args, message) => {
  // In a folder of its own: a refusal that failed would otherwise leave a database in the repository.
  const child = spawn(process.execPath, [CLI, "collect", ...args], { cwd: tempDir(), stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  expect(code).toBe(2);
  expect(err.trim().split("\n")).toHaveLength(1);
  expect(err).toContain(message);
  expect(err).not.toContain("\u001b");
  expect(err).not.toMatch(/\n\s+at /);
});

describe.each([
  {
    name: "SQLite",
    open() {
      const file = join(tempDir(), "centre.db");
      return { db: file, reader: (): EntryStore => new SqliteEntryStore(file), drop: () => Promise.resolve() };
    },
  },
  {
    name: "PostgreSQL",
    open() {
      const schema = randomSchema();
      const url = schemaUrl(schema);
      return { db: url, reader: (): EntryStore => new PostgresEntryStore(url), drop: () => dropSchema(schema) };
    },
  },
])("a collector on $name SIGKILLed during a burst", (kind) => {
  it("ends, once restarted, with all 5,000 entries stored once", async () => {
    const { db, reader, drop } = kind.open();
    const dir = tempDir();
    const args = ["--db", db, "--group", `kill${kind.name}`, "--client-id", `kill-${kind.name}`];
    const first = await collect(args, dir);
    const store = reader();
    await store.migrate();
    try {
      const pub = await connectPublisher(broker.url);
      const entries = Array.from({ length: 5000 }, (_, i) =>
        makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i * 10, subject: subjectId(i % 997) }),
      );
      // In chunks, so the burst lasts long enough to be interrupted.
      const published = (async () => {
        for (let i = 0; i < entries.length; i += 100) await publishEntries(pub, entries.slice(i, i + 100));
      })();
      // Kill it once it has committed part of the burst, while the rest is still arriving.
      await waitFor("part of the burst stored", async () => (await store.countEntries()) >= 500, 30_000);
      first.child.kill("SIGKILL");
      await first.exited;
      const before = await store.countEntries();
      await published;
      await pub.endAsync();

      const second = await collect(args, dir);
      await waitFor("all 5,000 entries", async () => (await store.countEntries()) === 5000, 60_000);
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
      expect(before).toBeLessThan(5000);
      // The restarted collector stored what the killed one had not committed. At most 5000 - before: a commit the
      // killed collector had already sent can still land after `before` was counted (PostgreSQL finishes it).
      const restored = stats(second.lines).entriesNew;
      expect(restored).toBeGreaterThan(0);
      expect(restored).toBeLessThanOrEqual(5000 - before);
      const stored = await store.entriesAtDoor(entries[0]!, { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") }, { includeDenied: true });
      expect(stored.map((e) => e.id).sort()).toEqual(entries.map((e) => e.id).sort());
    } finally {
      await store.close();
      await drop();
    }
  }, 120_000);
});

it("on PostgreSQL, one bad message does not stop ingest: 49 good entries stored, the bad one in rejected", async () => {
  const schema = randomSchema();
  const url = schemaUrl(schema);
  const run = await collect(["--db", url, "--group", "poisonpg", "--client-id", `poison-${schema}`], tempDir());
  const store = new PostgresEntryStore(url);
  try {
    const pub = await connectPublisher(broker.url);
    const base = Date.parse("2021-08-01T02:00:00Z");
    const bad = { ...makeEntry({ tsMs: base }), statusVersion: 1.5 };
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", JSON.stringify(bad), { qos: 1 });
    const good = Array.from({ length: 49 }, (_, i) => makeEntry({ tsMs: base + 1000 + i, subject: subjectId(i) }));
    await publishEntries(pub, good);
    await pub.endAsync();
    await waitFor("49 entries", async () => (await store.countEntries()) === 49, 10_000);
    const rejected = await store.rejectedMessages({ fromMs: 0, toMs: Date.now() + 60_000 });
    expect(rejected.map((r) => r.reason)).toEqual(["statusVersion: expected an integer from 0 to 9007199254740991"]);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    const counts = run.lines.filter((l) => l.includes('"msg":"counts"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(counts.at(-1)).toMatchObject({ stored: 49, duplicate: 0, rejected: 1 });
  } finally {
    await store.close();
    await dropSchema(schema);
  }
});
