/**
 * The gate wired to GPIO hardware by config alone (relay.type gpio, door.contact, indicator), on fake GPIO lines
 * and the fake clock, with a real SQLite store: an allow releases the strike and lights green, a deny lights red, a
 * forced door is an event in the outbox, and stop leaves the strike locked.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { FakeGpioChip } from "../fakes/fake-gpio.js";
import { FakeRelay, FaultyRelay } from "../fakes/fake-relay.js";
import { freePort } from "../support/mosquitto.js";

const RELAY = 17;
const DOOR = 27;
const GREEN = 5;
const RED = 6;
const CARD = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021";

describe("gate with GPIO relay, door contact and indicator", () => {
  const apps: GateApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.stop();
  });

  async function gate(relayFor?: (clock: FakeClock) => FakeRelay) {
    const clock = new FakeClock();
    const gpio = new FakeGpioChip(clock);
    gpio.setInput(DOOR, false); // closed (open is high)
    const port = await freePort();
    const base = validateConfig(
      {
        scanner: { type: "sim" },
        relay: { type: "gpio", pin: RELAY, activeLow: true, pulseMs: 3000 },
        door: { name: "lobby", contact: { pin: DOOR, debounceMs: 50 }, heldOpenMs: 20000 },
        indicator: { green: GREEN, red: RED },
        policy: { unknown: "allow" },
        mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: 60_000 },
      },
      "test",
    );
    const config = { ...base, store: { ...base.store, path: ":memory:" } };
    const scanner = new SimScanner(clock);
    const relay = relayFor?.(clock);
    const app = new GateApp(config, pino({ level: "silent" }), { clock, scanner, gpio, ...(relay !== undefined ? { relay } : {}) });
    apps.push(app);
    await app.start();
    const events = () =>
      app.outbox
        .after(0, 100)
        .filter((r) => r.topic.endsWith("/event"))
        .map((r) => (JSON.parse(r.payload) as { event: string }).event)
        .filter((e) => e.startsWith("door_"));
    return { clock, gpio, scanner, app, events };
  }

  it("locks the strike at start (active-low: high), releases it on an allow and lights green", async () => {
    const { gpio, scanner, clock, app } = await gate();
    expect(app.parts).toEqual(expect.arrayContaining(["relay", "door", "indicator"]));
    expect(gpio.level(RELAY)).toBe(true);
    const t = clock.monoMs();
    scanner.emit(CARD);
    expect(gpio.level(RELAY)).toBe(false);
    expect(gpio.level(GREEN)).toBe(true);
    clock.advance(3000);
    expect(gpio.timeline(RELAY, t)).toEqual([[0, false], [3000, true]]);
  });

  it("lights red on a deny and leaves the strike locked", async () => {
    const { gpio, scanner } = await gate();
    scanner.emit("not a code");
    expect(gpio.level(RED)).toBe(true);
    expect(gpio.level(RELAY)).toBe(true);
  });

  it("journals door_forced when the door opens with no allow, and not after an allow", async () => {
    const { gpio, scanner, clock, app, events } = await gate();
    gpio.setInput(DOOR, true);
    clock.advance(50);
    expect(events()).toEqual(["door_forced"]);
    expect(app.door).toMatchObject({ position: "open", forced: true });
    gpio.setInput(DOOR, false);
    clock.advance(5000);
    scanner.emit(CARD);
    clock.advance(1000);
    gpio.setInput(DOOR, true);
    clock.advance(50);
    expect(events()).toEqual(["door_forced"]);
    expect(app.door).toMatchObject({ position: "open", forced: false });
    clock.advance(20_000);
    expect(events()).toEqual(["door_forced", "door_held"]);
  });

  it("leaves the strike locked after stop, even mid-pulse", async () => {
    const { gpio, scanner, app } = await gate();
    scanner.emit(CARD);
    expect(gpio.level(RELAY)).toBe(false);
    await app.stop();
    expect(gpio.level(RELAY)).toBe(true);
  });

  it("refuses to start when the relay cannot be locked (a faulty relay), saying why", async () => {
    await expect(gate((clock) => new FaultyRelay({ pulseMs: 3000, maxPulseMs: 15000, activeLow: false }, clock))).rejects.toMatchObject({
      code: "E_RELAY_FAULT",
    });
  });

  it("keeps deciding when the relay breaks later: the allow is journaled, the device turns degraded, red blinks", async () => {
    let relay!: FakeRelay;
    const { scanner, clock, gpio, app } = await gate((c) => (relay = new FakeRelay({ pulseMs: 3000, maxPulseMs: 15000, activeLow: false }, c)));
    relay.breakHardware();
    const conditions: string[] = [];
    app.faults.onChange((c) => conditions.push(`${c.state}:${c.reason ?? ""}`));
    scanner.emit(CARD);
    expect(conditions).toEqual(["degraded:relay_fault"]);
    const t = clock.monoMs();
    clock.advance(4000);
    // After the allow's 1.5 s of green, the fault blink takes over.
    expect(gpio.timeline(RED, t).filter(([, on]) => on).length).toBeGreaterThanOrEqual(2);
  });
});
