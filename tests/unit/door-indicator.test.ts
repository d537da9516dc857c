/** Door contact (debounce), door monitor (door_forced, door_held) and indicator patterns, on the fake clock and fake GPIO lines. */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AlarmType } from "../../src/contract/event.js";
import { DoorContact } from "../../src/drivers/door/door-contact.js";
import { DoorMonitor } from "../../src/services/door-monitor.js";
import { Indicator } from "../../src/services/indicator.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { FakeGpioChip } from "../fakes/fake-gpio.js";

const log = pino({ level: "silent" });
const DOOR = 27;

async function door(opts: { openLevel?: "high" | "low"; debounceMs?: number; startOpen?: boolean } = {}) {
  const clock = new FakeClock();
  const gpio = new FakeGpioChip(clock);
  const openLevel = opts.openLevel ?? "high";
  const openHigh = openLevel === "high";
  gpio.setInput(DOOR, opts.startOpen === true ? openHigh : !openHigh);
  const contact = new DoorContact(gpio, { pin: DOOR, openLevel, bias: "pull-up", debounceMs: opts.debounceMs ?? 50 }, clock, log);
  const alarms: Array<[AlarmType, string]> = [];
  let released = false;
  const monitor = new DoorMonitor(contact, { heldOpenMs: 30_000, allowWindowMs: 3050 }, () => released, { raise: (e, d) => alarms.push([e, d]) }, clock, log);
  await monitor.start();
  return {
    clock,
    gpio,
    contact,
    monitor,
    alarms,
    open: () => gpio.setInput(DOOR, openHigh),
    close: () => gpio.setInput(DOOR, !openHigh),
    release: (on: boolean) => (released = on),
  };
}

describe("fake GPIO lines enforce the GpioChip contract", () => {
  it("refuses a line claimed twice and a write after release", async () => {
    const gpio = new FakeGpioChip(new FakeClock());
    const out = await gpio.output(17, false);
    await expect(gpio.output(17, false)).rejects.toMatchObject({ code: "E_GPIO_BUSY" });
    await out.release();
    expect(() => out.write(true)).toThrow(expect.objectContaining({ code: "E_GPIO_IO" }));
  });
});

describe("door contact", () => {
  it("reads the door's position at start, for either wiring", async () => {
    expect((await door({ startOpen: false })).contact.position).toBe("closed");
    expect((await door({ openLevel: "low", startOpen: true })).contact.position).toBe("open");
  });

  it("ignores chatter shorter than debounceMs and takes a level that holds", async () => {
    const d = await door({ debounceMs: 50 });
    const seen: string[] = [];
    d.contact.onChange((p) => seen.push(p));
    d.open();
    d.clock.advance(10);
    d.close();
    d.clock.advance(10);
    d.open();
    d.clock.advance(49);
    expect(seen).toEqual([]);
    d.clock.advance(1);
    expect(seen).toEqual(["open"]);
  });

  it("shows unknown when the line cannot be read", async () => {
    const d = await door();
    d.gpio.failInput(DOOR, "gpiomon died");
    expect(d.monitor.status.position).toBe("unknown");
  });
});

describe("door monitor", () => {
  it("raises door_forced when the door opens with no allow in the pulse window", async () => {
    const d = await door();
    d.open();
    d.clock.advance(50);
    expect(d.alarms.map(([e]) => e)).toEqual(["door_forced"]);
    expect(d.monitor.status).toMatchObject({ position: "open", forced: true });
  });

  it("takes an opening right after an allow as the allowed person", async () => {
    const d = await door();
    d.monitor.allowed();
    d.clock.advance(2000);
    d.open();
    d.clock.advance(50);
    expect(d.alarms).toEqual([]);
    expect(d.monitor.status.forced).toBe(false);
  });

  it("raises door_forced for an opening after the allow's window has passed", async () => {
    const d = await door();
    d.monitor.allowed();
    d.clock.advance(3100);
    d.open();
    d.clock.advance(50);
    expect(d.alarms.map(([e]) => e)).toEqual(["door_forced"]);
  });

  it("takes an opening while the relay is released (a remote open) as allowed", async () => {
    const d = await door();
    d.release(true);
    d.open();
    d.clock.advance(50);
    expect(d.alarms).toEqual([]);
  });

  it("raises door_held once when the door stays open past heldOpenMs, and clears on close", async () => {
    const d = await door();
    d.monitor.allowed();
    d.open();
    d.clock.advance(50 + 29_999);
    expect(d.alarms).toEqual([]);
    d.clock.advance(1);
    d.clock.advance(60_000);
    expect(d.alarms).toEqual([["door_held", "door open for more than 30 s"]]);
    expect(d.monitor.status.held).toBe(true);
    d.close();
    d.clock.advance(50);
    expect(d.monitor.status).toMatchObject({ position: "closed", held: false, forced: false });
  });

  it("does not call a door open at start forced, but does time it for door_held", async () => {
    const d = await door({ startOpen: true });
    d.clock.advance(30_000);
    expect(d.alarms.map(([e]) => e)).toEqual(["door_held"]);
  });

  it("raises nothing after stop", async () => {
    const d = await door();
    await d.monitor.stop();
    d.open();
    d.clock.advance(60_000);
    expect(d.alarms).toEqual([]);
  });
});

describe("indicator", () => {
  async function indicator(activeLow = false) {
    const clock = new FakeClock();
    const gpio = new FakeGpioChip(clock);
    const ind = new Indicator(gpio, { green: 5, red: 6, buzzer: 13, activeLow }, clock, log);
    await ind.start();
    return { clock, gpio, ind, t0: clock.monoMs() };
  }

  it("claims its lines dark and silent at start, honouring activeLow", async () => {
    const { gpio } = await indicator(true);
    expect([gpio.level(5), gpio.level(6), gpio.level(13)]).toEqual([true, true, true]);
  });

  it("shows allow as green for 1.5 s and one short beep", async () => {
    const { clock, gpio, ind } = await indicator();
    const t = clock.monoMs();
    ind.signal("allow");
    clock.advance(5000);
    expect(gpio.timeline(5, t)).toEqual([[0, true], [1500, false]]);
    expect(gpio.timeline(13, t)).toEqual([[0, true], [120, false]]);
    expect(gpio.timeline(6, t)).toEqual([[0, false]]);
  });

  it("shows deny as red for 1.5 s and two short beeps", async () => {
    const { clock, gpio, ind } = await indicator();
    const t = clock.monoMs();
    ind.signal("deny");
    clock.advance(5000);
    expect(gpio.timeline(6, t)).toEqual([[0, true], [1500, false]]);
    expect(gpio.timeline(13, t)).toEqual([[0, true], [100, false], [200, true], [300, false]]);
    expect(gpio.timeline(5, t)).toEqual([[0, false]]);
  });

  it("blinks red with a long beep while a fault lasts, resumes it after a scan's signal, stops when it clears", async () => {
    const { clock, gpio, ind } = await indicator();
    const t = clock.monoMs();
    ind.setFault("scanner", true);
    clock.advance(2000);
    expect(gpio.timeline(6, t)).toEqual([[0, true], [250, false], [1000, true], [1250, false], [2000, true]]);
    expect(gpio.timeline(13, t)).toEqual([[0, true], [800, false]]);
    ind.signal("deny");
    clock.advance(1500);
    const after = clock.monoMs();
    clock.advance(1000);
    expect(gpio.timeline(6, after)[0]).toEqual([0, true]);
    ind.setFault("scanner", false);
    const cleared = clock.monoMs();
    clock.advance(3000);
    expect(gpio.timeline(6, cleared)).toEqual([[0, false]]);
  });

  it("leaves every line dark at stop and claims nothing when no line is configured", async () => {
    const { clock, gpio, ind } = await indicator();
    ind.signal("allow");
    await ind.stop();
    clock.advance(5000);
    expect([gpio.level(5), gpio.level(6), gpio.level(13)]).toEqual([false, false, false]);
    const none = new Indicator(gpio, { activeLow: false }, clock, log);
    expect(none.enabled).toBe(false);
    await none.start();
    none.signal("deny");
  });
});
