import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { FakeClock } from "../fakes/fake-clock.js";

const log = pino({ level: "silent" });
function relay(over: { activeLow?: boolean } = {}) {
  const clock = new FakeClock();
  const r = new SimRelay({ pulseMs: 3000, maxPulseMs: 8000, activeLow: over.activeLow ?? false }, clock, log);
  r.init();
  return { r, clock };
}

describe("relay", () => {
  it("is off after init", () => {
    const { r } = relay();
    expect(r.isOn).toBe(false);
    expect(r.levels).toEqual([false]);
  });

  it("writes the inverted level when activeLow", () => {
    const { r } = relay({ activeLow: true });
    r.pulse();
    expect(r.levels).toEqual([true, false]);
  });

  it("releases the door for pulseMs", () => {
    const { r, clock } = relay();
    r.pulse();
    clock.advance(2999);
    expect(r.isOn).toBe(true);
    clock.advance(1);
    expect(r.isOn).toBe(false);
  });

  it("extends the pulse when allowed again during it", () => {
    const { r, clock } = relay();
    r.pulse();
    clock.advance(2000);
    r.pulse();
    clock.advance(2999);
    expect(r.isOn).toBe(true);
    clock.advance(1);
    expect(r.isOn).toBe(false);
    expect(r.levels).toEqual([false, true, false]);
  });

  it("never holds the door longer than maxPulseMs however often it is extended", () => {
    const { r, clock } = relay();
    r.pulse();
    for (let i = 0; i < 7; i++) {
      clock.advance(1000);
      r.pulse();
    }
    // The last pulse (at 7 s) asked for the door until 10 s; the run started at 0 s, so it locks at 8 s.
    clock.advance(999);
    expect(r.isOn).toBe(true);
    clock.advance(1);
    expect(r.isOn).toBe(false);
    expect(r.levels).toEqual([false, true, false]);
  });

  it("off() locks at once and cancels the pulse timer", () => {
    const { r, clock } = relay();
    r.pulse();
    r.off();
    expect(r.isOn).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});
