/**
 * Journaled means delivered: entries decided while the broker is away survive a SIGKILL of the gate (no orderly
 * stop, no flush) and arrive once the gate restarts and the broker is back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import type { EntryMessage } from "../../src/contract/entry.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { startBroker } from "../support/mosquitto.js";
import { openPtyPair } from "../support/pty.js";
import { waitFor } from "../support/wait.js";

const CARD = (id: string) => `${id}||Phạm Thị Hương|01011990|Nữ|Phường 5, Quận 3, TP. Hồ Chí Minh|15062021`;

describe("SIGKILL with a backlog", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("delivers every entry journaled before the kill, once the gate restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-kill-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await startBroker();
    cleanups.push(() => broker.dispose());
    const pty = await openPtyPair(dir);
    cleanups.push(() => pty.close());
    const ids = Array.from({ length: 40 }, (_, i) => `0010990${String(10000 + i).slice(0, 5)}`);
    writeFileSync(join(dir, "status.csv"), ids.map((id, i) => `${id},${i % 3 === 0 ? "f0" : "clear"},2,,,1990-01-01,,`).join("\n"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({
      site: "factory", device: "east-1",
      scanner: { type: "serial", path: pty.devicePath, retryMs: 100 },
      mqtt: { url: broker.url, reconnectMs: 100 },
      store: { path: join(dir, "gate.db") },
    }));
    expect(runCli(["status", "import", join(dir, "status.csv"), "--config", config]).status).toBe(0);

    const got = new Map<string, EntryMessage>();
    const sub = mqtt.connect(broker.url, { clientId: "kill-sub", clean: false, reconnectPeriod: 100 });
    cleanups.push(() => void sub.end(true));
    sub.on("message", (_t, p) => {
      const e = JSON.parse(p.toString()) as EntryMessage;
      got.set(e.id, e);
    });
    await new Promise<void>((res, rej) => sub.once("connect", () => sub.subscribe("qrgate/v1/factory/+/entry", { qos: 1 }, (e) => (e ? rej(e) : res()))));

    const start = (): CliChild => {
      const g = spawnCli(["run", "--config", config], { cwd: dir });
      cleanups.push(() => void g.proc.kill("SIGKILL"));
      return g;
    };
    const decided = (g: CliChild) => g.logs().filter((l) => l.msg === "allowed" || l.msg === "denied").length;

    const first = start();
    await waitFor(() => first.logs().some((l) => l.msg === "scanner connected"), "the scanner");
    await waitFor(() => first.logs().some((l) => l.msg === "mqtt connected"), "the broker");
    await broker.stop();
    for (const [i, id] of ids.entries()) {
      pty.write(CARD(id) + "\r");
      await waitFor(() => decided(first) === i + 1, `decision ${i + 1}`);
    }
    first.proc.kill("SIGKILL");
    await first.exited();
    expect(got.size).toBe(0);

    await broker.start();
    const second = start();
    await waitFor(() => got.size >= ids.length, `${ids.length} entries after the restart`, 30_000);
    expect([...got.values()].map((e) => e.subject).sort()).toEqual([...ids].sort());
    expect([...got.values()].filter((e) => e.reason === "infected")).toHaveLength(14);
    second.proc.kill("SIGTERM");
    expect(await second.exited()).toBe(0);
  });
});
