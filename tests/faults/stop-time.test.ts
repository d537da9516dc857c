/**
 * Issue 11 item 12: stopping (end of standard input, SIGTERM, SIGINT) takes under 2 s whatever the broker does,
 * relay off first. Real `qrgate run` processes against a broker that accepts TCP and never answers (so MQTT is
 * still connecting), and against a real Mosquitto.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const STOP_LIMIT_MS = 2000;

describe("stopping the gate", () => {
  let dir: string;
  let mute: Server;
  let mutePort: number;
  const held: Socket[] = [];
  let broker: TestBroker;
  const children: CliChild[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-stop-"));
    // Accepts the TCP connection, reads the CONNECT, never sends a CONNACK.
    mute = createServer((s) => {
      held.push(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    const addr = mute.address();
    mutePort = typeof addr === "object" && addr !== null ? addr.port : 0;
    broker = await startBroker({ persistence: false });
  });

  afterAll(async () => {
    for (const c of children) c.proc.kill("SIGKILL");
    for (const s of held) s.destroy();
    await new Promise((r) => mute.close(r));
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function startGate(name: string, url: string): CliChild {
    const config = join(dir, `${name}.json`);
    writeFileSync(config, JSON.stringify({ site: "hq", device: name, mqtt: { url, reconnectMs: 200 }, store: { path: join(dir, name, "gate.db") } }));
    const g = spawnCli(["run", "--config", config], { cwd: dir });
    children.push(g);
    return g;
  }

  async function timeStop(g: CliChild, how: () => void): Promise<{ ms: number; code: number | null }> {
    const t0 = performance.now();
    how();
    const code = await g.exited();
    return { ms: performance.now() - t0, code };
  }

  function expectRelayOffFirst(g: CliChild): void {
    const msgs = g.logs().map((l) => l.msg);
    const i = msgs.indexOf("stopping");
    expect(i).toBeGreaterThanOrEqual(0);
    expect(msgs[i + 1]).toBe("relay off");
    expect(msgs.at(-1)).toBe("gate stopped");
  }

  it("end of standard input while MQTT is still connecting: exits in under 2 s", async () => {
    const g = startGate("eof-connecting", `mqtt://127.0.0.1:${mutePort}`);
    await waitFor(() => g.logs().some((l) => l.msg === "gate started"), "gate started");
    await waitFor(() => held.length > 0, "the gate to open its TCP connection to the mute broker");
    const { ms, code } = await timeStop(g, () => g.proc.stdin?.end());
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_LIMIT_MS);
    expectRelayOffFirst(g);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("%s while MQTT is still connecting: exits in under 2 s", async (signal) => {
    const g = startGate(`${signal.toLowerCase()}-connecting`, `mqtt://127.0.0.1:${mutePort}`);
    await waitFor(() => g.logs().some((l) => l.msg === "gate started"), "gate started");
    const { ms, code } = await timeStop(g, () => g.proc.kill(signal));
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_LIMIT_MS);
    expectRelayOffFirst(g);
  });

  it("SIGTERM while connected to a real broker: says offline and exits in under 2 s", async () => {
    const g = startGate("sigterm-connected", broker.url);
    await waitFor(() => g.logs().some((l) => l.msg === "mqtt connected"), "mqtt connected");
    const { ms, code } = await timeStop(g, () => g.proc.kill("SIGTERM"));
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_LIMIT_MS);
    expectRelayOffFirst(g);
    const sub = await mqtt.connectAsync(broker.url, { clientId: "stop-state-reader" });
    try {
      const state = new Promise<Record<string, unknown>>((resolve) =>
        sub.on("message", (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)),
      );
      await sub.subscribeAsync("qrgate/v1/hq/sigterm-connected/state", { qos: 1 });
      expect((await state).state).toBe("offline");
    } finally {
      await sub.endAsync(true);
    }
  });

  it("end of input while connected to a broker that went away: exits in under 2 s", async () => {
    const g = startGate("eof-broker-gone", broker.url);
    await waitFor(() => g.logs().some((l) => l.msg === "mqtt connected"), "mqtt connected");
    await broker.stop();
    try {
      await waitFor(() => g.logs().some((l) => String(l.msg).startsWith("mqtt connection lost")), "the gate to see the broker gone");
      const { ms, code } = await timeStop(g, () => g.proc.stdin?.end());
      expect(code).toBe(0);
      expect(ms).toBeLessThan(STOP_LIMIT_MS);
      expectRelayOffFirst(g);
    } finally {
      await broker.start();
    }
  });
});
