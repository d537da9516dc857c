/**
 * `qrgate sim` end to end, small: 20 real gates in two worker processes publish to a real Mosquitto, a real
 * `qrgate collect` stores into SQLite, and every entry the gates journaled is stored exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FleetResult } from "../../src/sim/fleet-runner.js";
import { waitFor } from "../centre/mqtt-support.js";
import { CLI, runCli, spawnCli } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";

let broker: TestBroker;
let dir: string;
let collector: ChildProcess | null = null;

beforeAll(async () => {
  broker = await startBroker({ persistence: false });
  dir = mkdtempSync(join(tmpdir(), "qrgate-fleet-sim-"));
});

afterAll(async () => {
  if (collector !== null && collector.exitCode === null) collector.kill("SIGKILL");
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function startCollector(db: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "collect", "--url", broker.url, "--db", db, "--client-id", "fleet-sim-test"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d: Buffer) => (log += d.toString("utf8")));
  await waitFor("the collector to subscribe", () => log.includes('"collecting"'));
  return child;
}

it("stores every entry the simulated gates journaled, exactly once", async () => {
  const db = join(dir, "centre.db");
  collector = await startCollector(db);
  const sim = spawnCli(
    ["sim", "--doors", "20", "--doors-per-site", "5", "--workers", "2", "--rate", "2", "--duration", "3", "--url", broker.url, "--dir", join(dir, "doors"), "--json"],
    {},
  );
  expect(await sim.exited()).toBe(0);
  const result = JSON.parse(sim.stdout.join("")) as FleetResult;
  expect(result.workers).toBe(2);
  expect(Object.keys(result.journal)).toHaveLength(20);
  expect(result.entries).toBeGreaterThan(0);
  expect(result.outboxRows).toBe(0);

  const centre = new Database(db, { readonly: true });
  try {
    await waitFor("the centre to store every entry", () => (centre.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n >= result.entries);
    const counts = centre.prepare("SELECT count(*) AS n, count(DISTINCT id) AS d FROM entries").get() as { n: number; d: number };
    expect(counts).toEqual({ n: result.entries, d: result.entries });
    const byDevice = centre.prepare("SELECT site || '/' || device AS k, count(*) AS n FROM entries GROUP BY 1").all() as Array<{ k: string; n: number }>;
    expect(Object.fromEntries(byDevice.map((r) => [r.k, r.n]))).toEqual(Object.fromEntries(Object.entries(result.journal).filter(([, n]) => n > 0)));
    // Chip cards and signed passes both went through the gates.
    const kinds = centre.prepare("SELECT DISTINCT kind FROM entries ORDER BY kind").all() as Array<{ kind: string }>;
    expect(kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(["cccd", "pass"]));
  } finally {
    centre.close();
  }
});

it("says what is wrong with its options", () => {
  expect(runCli(["sim"]).stderr).toMatch(/--doors N is required/);
  const r = runCli(["sim", "--doors", "5", "--rate", "fast"]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--rate: expected a number/);
  expect(runCli(["sim", "--help"]).stdout).toMatch(/PER DOOR/);
});
