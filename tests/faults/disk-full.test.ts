/**
 * Issue 11 item 13: on a full disk the gate refuses everyone (`journal_unavailable`), and now the centre is told:
 * the alarm goes out from memory (not through the outbox, which lives on the full disk) and the retained state
 * says `degraded` with the reason, within 5 s of the first refusal; when the journal works again the state is
 * `online` (found by a probe write, without waiting for a scan). A real `qrgate run` with its store on a 2 MB tmpfs, a real Mosquitto and a real subscriber.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const CARD = (id: string) => `${id}|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021`;

/** Writes zeros into `path` until the filesystem refuses (ENOSPC). */
function fill(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
    // Top up the last partial block too.
    try {
      for (;;) writeSync(fd, chunk, 0, 512);
    } catch {
      // full
    }
  } finally {
    closeSync(fd);
  }
}

describe("disk full", () => {
  let dir: string;
  let mnt: string;
  let mounted = false;
  let mountError = "";
  let broker: TestBroker;
  let sub: MqttClient;
  let gate: CliChild | null = null;
  const states: Array<{ m: Record<string, unknown>; at: number }> = [];
  const events: Array<{ m: Record<string, unknown>; at: number }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-full-"));
    mnt = join(dir, "store");
    mkdirSync(mnt);
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], { encoding: "utf8" });
    mounted = m.status === 0;
    mountError = m.stderr.trim();
    broker = await startBroker({ persistence: false });
    sub = await mqtt.connectAsync(broker.url, { clientId: "full-sub" });
    sub.on("message", (topic, p) => {
      const m = { m: JSON.parse(p.toString()) as Record<string, unknown>, at: performance.now() };
      if (topic.endsWith("/state")) states.push(m);
      if (topic.endsWith("/event")) events.push(m);
    });
    await sub.subscribeAsync(["qrgate/v1/hq/full-1/state", "qrgate/v1/hq/full-1/event"], { qos: 1 });
  });
  afterAll(async () => {
    gate?.proc.kill("SIGKILL");
    await sub.endAsync(true);
    await broker.dispose();
    if (mounted) spawnSync("umount", ["-l", mnt]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses journal_unavailable, says degraded with the reason within 5 s, and online again once there is room", async (ctx) => {
    if (!mounted) {
      ctx.skip(`cannot mount a 2 MB tmpfs here (${mountError}); run as root (or where mount is permitted) for this test`);
      return;
    }
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ site: "hq", device: "full-1", mqtt: { url: broker.url, reconnectMs: 200 }, store: { path: join(mnt, "gate.db") } }));
    writeFileSync(join(dir, "status.csv"), ["001099012345,clear,2,2021-09-01,,1990-01-01,,", "001099000222,clear,2,2021-09-01,,1990-01-01,,"].join("\n"));
    expect(runCli(["status", "import", join(dir, "status.csv"), "--config", config]).status).toBe(0);

    const g = spawnCli(["run", "--config", config], { cwd: dir });
    gate = g;
    const decisions = () => g.logs().filter((l) => l.msg === "allowed" || l.msg === "denied");
    await waitFor(() => g.logs().some((l) => l.msg === "gate started"), "gate started");
    await waitFor(() => states.some((s) => s.m.state === "online"), "the retained state online");

    const filler = join(mnt, "filler");
    fill(filler);
    g.proc.stdin?.write(CARD("001099012345") + "\n");
    await waitFor(() => decisions().length === 1, "the first decision");
    const refusedAt = performance.now();
    expect(decisions()[0]).toMatchObject({ decision: "deny", reason: "journal_unavailable" });

    await waitFor(() => events.some((e) => e.m.event === "journal_unavailable"), "the journal_unavailable alarm", 5000);
    await waitFor(() => states.at(-1)?.m.state === "degraded", "the state degraded", 5000);
    const alarm = events.find((e) => e.m.event === "journal_unavailable");
    const degraded = states.at(-1);
    expect(degraded?.m).toMatchObject({ state: "degraded", reason: "journal_unavailable" });
    expect((alarm?.at ?? Infinity) - refusedAt).toBeLessThan(5000);
    expect((degraded?.at ?? Infinity) - refusedAt).toBeLessThan(5000);
    expect(alarm?.m).toMatchObject({ site: "hq", device: "full-1" });

    // Still full: refused again, no second alarm.
    g.proc.stdin?.write(CARD("001099000222") + "\n");
    await waitFor(() => decisions().length === 2, "the second decision");
    expect(decisions()[1]).toMatchObject({ decision: "deny", reason: "journal_unavailable" });

    // Room again: the gate finds out by itself (a probe write every 5 s), before anyone scans.
    rmSync(filler);
    await waitFor(() => states.at(-1)?.m.state === "online", "the state back to online", 10_000);
    g.proc.stdin?.write(CARD("001099012345") + "\n");
    await waitFor(() => decisions().length === 3, "the decision after room was made");
    expect(decisions()[2]).toMatchObject({ decision: "allow", reason: "ok" });
    expect(events.filter((e) => e.m.event === "journal_unavailable")).toHaveLength(1);

    g.proc.stdin?.end();
    expect(await g.exited()).toBe(0);
  });
});
