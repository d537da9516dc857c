/**
 * systemd notification (issue 14 item 5, code side): real `qrgate run` and `qrgate collect` processes with
 * NOTIFY_SOCKET set to a real Unix datagram socket. READY=1 only once the gate is up, WATCHDOG=1 every half
 * WATCHDOG_USEC from the event loop (a wedged loop stops them: the debug hook blocks it), STOPPING=1 at stop.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SdNotify } from "../../src/services/sd-notify.js";
import { spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { openNotifySocket, type NotifySocket } from "../support/notify-socket.js";
import { waitFor } from "../support/wait.js";

const WATCHDOG_USEC = 400_000; // a ping every 200 ms
const BLOCK_MS = 1500;

describe("sd_notify", () => {
  let dir: string;
  let broker: TestBroker;
  const children: CliChild[] = [];
  const sockets: NotifySocket[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-notify-"));
    broker = await startBroker({ persistence: false });
  });
  afterAll(async () => {
    for (const c of children) c.proc.kill("SIGKILL");
    for (const s of sockets) await s.close();
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const texts = (s: NotifySocket) => s.received.map((n) => n.text);
  const pings = (s: NotifySocket) => s.received.filter((n) => n.text === "WATCHDOG=1");

  it("is a no-op without NOTIFY_SOCKET", () => {
    const n = new SdNotify(pino({ level: "silent" }), {});
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeNull();
    n.ready();
    n.startWatchdog();
    n.stopping();
    n.close();
  });

  it("pings at half WATCHDOG_USEC, and not when WATCHDOG_PID names another process", () => {
    const log = pino({ level: "silent" });
    expect(new SdNotify(log, { NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "30000000" }, 42).watchdogIntervalMs).toBe(15_000);
    expect(new SdNotify(log, { NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42).watchdogIntervalMs).toBe(15_000);
    expect(new SdNotify(log, { NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 42).watchdogIntervalMs).toBeNull();
    expect(new SdNotify(log, { NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "nope" }, 42).watchdogIntervalMs).toBeNull();
  });

  it("qrgate run: READY=1 after the gate started, pings that stop while the loop is wedged, STOPPING=1", async () => {
    const sock = await openNotifySocket(dir, "run.sock");
    sockets.push(sock);
    const config = join(dir, "run.json");
    writeFileSync(config, JSON.stringify({ site: "hq", device: "notify-1", mqtt: { url: broker.url }, store: { path: join(dir, "run", "gate.db") } }));
    const g = spawnCli(["run", "--config", config], {
      cwd: dir,
      env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: String(WATCHDOG_USEC), QRGATE_DEBUG_BLOCK_LOOP_MS: String(BLOCK_MS) },
    });
    children.push(g);

    await waitFor(() => texts(sock).some((t) => t.startsWith("READY=1")), "READY=1");
    // READY comes after the store, relay and scanner are up, which "gate started" says.
    expect(g.logs().some((l) => l.msg === "gate started")).toBe(true);
    expect(texts(sock)[0]).toBe("READY=1|STATUS=gate started");

    await waitFor(() => pings(sock).length >= 3, "three watchdog pings");
    const before = pings(sock).length;
    g.proc.kill("SIGUSR2");
    await waitFor(() => g.logs().some((l) => l.msg === "debug: event loop unblocked"), "the loop to be blocked and released");
    await waitFor(() => pings(sock).length >= before + 2, "pings to resume after the block");
    const p = pings(sock);
    const gaps = p.slice(1).map((n, i) => n.at - (p[i] as { at: number }).at);
    // A gap spans the block: no ping while the loop was wedged (the others are about 200 ms).
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(BLOCK_MS - 100);

    g.proc.stdin?.end();
    expect(await g.exited()).toBe(0);
    await waitFor(() => texts(sock).includes("STOPPING=1"), "STOPPING=1");
  });

  it("qrgate run with a start-up failure never says READY", async () => {
    const sock = await openNotifySocket(dir, "fail.sock");
    sockets.push(sock);
    writeFileSync(join(dir, "a-file"), "");
    const config = join(dir, "fail.json");
    writeFileSync(config, JSON.stringify({ mqtt: { url: broker.url }, store: { path: join(dir, "a-file", "gate.db") } }));
    const g = spawnCli(["run", "--config", config], { cwd: dir, env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: String(WATCHDOG_USEC) } });
    children.push(g);
    expect(await g.exited()).toBe(2);
    expect(texts(sock).filter((t) => t.startsWith("READY=1"))).toEqual([]);
  });

  it("qrgate collect: READY=1 once subscribed, then pings", async () => {
    const sock = await openNotifySocket(dir, "collect.sock");
    sockets.push(sock);
    const c = spawnCli(["collect", "--url", broker.url, "--db", join(dir, "centre.db"), "--client-id", "notify-collector"], {
      cwd: dir,
      env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: String(WATCHDOG_USEC) },
    });
    children.push(c);
    await waitFor(() => texts(sock).some((t) => t.startsWith("READY=1")), "READY=1 from the collector");
    expect(c.logs().some((l) => l.msg === "subscribed")).toBe(true);
    await waitFor(() => pings(sock).length >= 2, "collector watchdog pings");
    c.proc.kill("SIGTERM");
    expect(await c.exited()).toBe(0);
    await waitFor(() => texts(sock).includes("STOPPING=1"), "STOPPING=1 from the collector");
  });
});
