/**
 * Issue 11 item 13, the relay half: an allow whose relay fails (writeLevel throws) raises `relay_fault` and turns
 * the retained state to `degraded`, seen by a real MQTT subscriber; the next allow that works clears it. The
 * relay is the only fake here (no GPIO on this machine), behind the same BaseRelay the real driver extends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { systemClock, type Clock } from "../../src/drivers/clock.js";
import { BaseRelay } from "../../src/drivers/relay/relay.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import { CARD, ROW } from "../support/gate-harness.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

/** A relay board whose coil driver fails while `broken` is set. */
class BreakableRelay extends BaseRelay {
  broken = false;
  constructor(clock: Clock, log: Logger) {
    super({ pulseMs: 50, maxPulseMs: 200, activeLow: false }, clock, log);
  }
  protected writeLevel(high: boolean): void {
    if (this.broken && high) throw new Error("EIO: gpio line 17 write failed");
  }
}

describe("device faults reach the centre without the store", () => {
  let dir: string;
  let broker: TestBroker;
  let sub: MqttClient;
  const states: Array<Record<string, unknown>> = [];
  const events: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-faults-"));
    broker = await startBroker({ persistence: false });
    sub = await mqtt.connectAsync(broker.url, { clientId: "faults-sub" });
    sub.on("message", (topic, p) => {
      const m = JSON.parse(p.toString()) as Record<string, unknown>;
      if (topic.endsWith("/state")) states.push(m);
      if (topic.endsWith("/event")) events.push(m);
    });
    await sub.subscribeAsync(["qrgate/v1/hq/+/state", "qrgate/v1/hq/+/event"], { qos: 1 });
  });
  afterAll(async () => {
    await sub.endAsync(true);
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a relay that fails on an allow: relay_fault alarm and state degraded, cleared by the next good allow", async () => {
    const log = pino({ level: "silent" });
    const relay = new BreakableRelay(systemClock, log);
    const scanner = new SimScanner(systemClock);
    const config = validateConfig(
      { site: "hq", device: "relay-1", scanner: { type: "sim" }, mqtt: { url: broker.url }, store: { path: join(dir, "gate.db") } },
      "test",
    );
    const said: string[] = [];
    const notifier = {
      enabled: true,
      ready: () => void said.push("READY"),
      stopping: () => void said.push("STOPPING"),
      status: (t: string) => void said.push(`STATUS ${t}`),
      startWatchdog: () => undefined,
      close: () => undefined,
    };
    const app = new GateApp(config, log, { relay, scanner, notifier });
    const outcomes: string[] = [];
    app.onOutcome((o) => outcomes.push(`${o.decision} ${o.reason}`));
    await app.start();
    try {
      const stage = app.status.beginReplace();
      stage.addBatch([ROW("001099012345", { dob: "1990-01-01" }), ROW("001099000222")]);
      stage.commit(app.clock.wallMs());
      await waitFor(() => states.some((s) => s.state === "online"), "online");

      relay.broken = true;
      scanner.emit(CARD("001099012345"));
      expect(outcomes).toEqual(["allow ok"]);
      await waitFor(() => events.some((e) => e.event === "relay_fault"), "the relay_fault alarm", 5000);
      await waitFor(() => states.at(-1)?.state === "degraded", "state degraded", 5000);
      expect(states.at(-1)).toMatchObject({ state: "degraded", reason: "relay_fault" });
      expect(String(states.at(-1)?.detail)).toMatch(/EIO/);
      // Another failure while the fault is active is counted, not alarmed again.
      scanner.emit(CARD("001099000222", "01011990"));
      relay.broken = false;
      scanner.emit(CARD("001099012345"));
      await waitFor(() => states.at(-1)?.state === "online", "state back to online", 5000);
      expect(events.filter((e) => e.event === "relay_fault")).toHaveLength(1);
      // systemd's status line follows the condition.
      expect(said).toEqual(["READY", expect.stringMatching(/^STATUS degraded: relay_fault: the door relay failed on an allow: EIO/), "STATUS gate running"]);
    } finally {
      await app.stop();
    }
  });
});
