/**
 * A gate killed (SIGKILL) in the middle of staging a snapshot: the old table still decides, nothing of the new one
 * is live, and after the restart the staged chunks are kept and the rest fetched, ending in the whole new table.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { closeBroker, connectBroker } from "../../src/centre/broker-client.js";
import { publishSnapshot } from "../../src/centre/status-publisher.js";
import { spawnCli, type CliChild } from "../support/cli.js";
import { makeCentreKey } from "../support/fleet-gate.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const idOf = (n: number): string => `001${String(n).padStart(9, "0")}`;
const lines = (count: number, status: string): string[] => Array.from({ length: count }, (_x, n) => `${idOf(n)},${status},2,2021-09-01,,,,`);

describe("snapshot staging killed mid-way", () => {
  let broker: TestBroker;
  const children: CliChild[] = [];
  afterAll(async () => {
    for (const c of children) c.proc.kill("SIGKILL");
    await broker.dispose();
  });

  it("never leaves a half-applied table and resumes after the restart", async () => {
    broker = await startBroker();
    const dir = mkdtempSync(join(tmpdir(), "qrgate-sync-kill-"));
    const keys = await makeCentreKey(join(dir, "centre"));
    const store = join(dir, "gate.db");
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({
      site: "kill", device: "gate-1", door: "main",
      scanner: { type: "stdin" }, relay: { type: "sim", pulseMs: 100 },
      mqtt: { url: broker.url, reconnectMs: 100 }, store: { path: store }, centre: { publicKey: keys.jwksPath },
      log: { level: "info" },
    }));
    const read = <T>(sql: string): T => {
      const db = new Database(store, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).get() as T;
      } finally {
        db.close();
      }
    };
    const version = (): number => {
      try {
        return Number(read<{ value: string } | undefined>("SELECT value FROM settings WHERE key = 'status.version'")?.value ?? 0);
      } catch {
        return 0; // not created yet
      }
    };
    const pub = await connectBroker(broker.url, "kill-publisher");
    const target = (nowMs = Date.now()) => ({ client: pub, root: "qrgate/v1", site: "kill", privateKey: keys.privateKey, nowMs });

    const small = await publishSnapshot(target(), lines(10, "clear"), 10);
    const first = spawnCli(["run", "--config", config], { cwd: dir });
    children.push(first);
    await waitFor(() => version() === small.version, "the first snapshot", 20_000);
    const big = await publishSnapshot(target(), lines(150_000, "f0"), 500);
    await waitFor(() => read<{ n: number }>("SELECT count(*) AS n FROM status_sync_chunks").n >= 3, "a few chunks staged", 20_000);
    first.proc.kill("SIGKILL");
    await first.exited();

    expect(version()).toBe(small.version);
    expect(read<{ n: number }>("SELECT count(*) AS n FROM status").n).toBe(10);
    expect(read<{ n: number }>("SELECT count(*) AS n FROM status WHERE status = 'f0'").n).toBe(0);
    const staged = read<{ n: number }>("SELECT count(*) AS n FROM status_sync_chunks").n;
    expect(staged).toBeLessThan(300);

    const second = spawnCli(["run", "--config", config], { cwd: dir });
    children.push(second);
    await waitFor(() => version() === big.version, "the resumed snapshot", 60_000);
    expect(read<{ n: number }>("SELECT count(*) AS n FROM status WHERE status = 'f0'").n).toBe(150_000);
    const resumed = second.logs().find((l) => l.msg === "resuming a snapshot staged before the restart");
    expect(resumed).toMatchObject({ version: big.version, chunks: 300 });
    expect(resumed?.staged as number).toBeGreaterThanOrEqual(staged);
    second.proc.kill("SIGTERM");
    await second.exited();
    await closeBroker(pub);
  }, 120_000);
});
