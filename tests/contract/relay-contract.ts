/**
 * The Relay contract, run against every relay driver and fake (the way MQTT.js runs one store suite against every
 * store). Usage, in a driver's test file:
 *
 *   relayContract("gpio (sysfs)", async (timing, clock) => { ...; return { relay, level, breakHardware, dispose } });
 *
 * The factory builds an unstarted relay on the given timing and fake clock; the suite starts it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RelayError, type BaseRelay, type RelayTiming } from "../../src/drivers/relay/relay.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { waitFor } from "../support/wait.js";

export interface RelayRig {
  /** Not started yet. */
  readonly relay: BaseRelay;
  /**
   * The physical output level now (true = high), as the hardware (fake sysfs file, fake gpioset's record, the
   * fake's level list) shows it; undefined when nothing was written. May be async for drivers whose write lands
   * through a child process: the suite waits for the level it expects, briefly, before it asserts.
   */
  level(): boolean | undefined | Promise<boolean | undefined>;
  /** From now on every write to the hardware fails. */
  breakHardware(): void | Promise<void>;
  dispose(): Promise<void>;
}

export type RelayRigFactory = (timing: RelayTiming, clock: FakeClock) => Promise<RelayRig>;

const TIMING = { pulseMs: 3000, maxPulseMs: 8000 };

export function relayContract(name: string, makeRig: RelayRigFactory): void {
  describe.each([false, true])(`relay contract: ${name} (activeLow %s)`, (activeLow) => {
    const timing: RelayTiming = { ...TIMING, activeLow };
    /** The level that energises the coil: the door released. */
    const ON = !activeLow;
    const OFF = activeLow;
    const rigs: RelayRig[] = [];
    afterEach(async () => {
      for (const r of rigs.splice(0)) await r.dispose();
    });
    async function rig() {
      const clock = new FakeClock();
      const r = await makeRig(timing, clock);
      rigs.push(r);
      return { r, relay: r.relay, clock };
    }
    async function expectLevel(r: RelayRig, want: boolean): Promise<void> {
      await waitFor(async () => (await r.level()) === want, `output level ${want ? "high" : "low"}`, 3000).catch(() => undefined);
      expect(await r.level()).toBe(want);
    }

    it("refuses a pulse before start, and writes nothing", async () => {
      const { r, relay } = await rig();
      expect(() => relay.pulse()).toThrow(expect.objectContaining({ code: "E_RELAY_NOT_STARTED" }));
      expect(relay.isOn).toBe(false);
      expect(await r.level()).not.toBe(ON);
    });

    it("is off at start", async () => {
      const { r, relay } = await rig();
      await relay.start();
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
    });

    it("starts twice and stops twice without harm, off at each step", async () => {
      const { r, relay } = await rig();
      await relay.start();
      await relay.start();
      relay.pulse();
      await expectLevel(r, ON);
      await relay.stop();
      await relay.stop();
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
    });

    it("stops before start without error", async () => {
      const { relay } = await rig();
      await relay.stop();
      expect(relay.isOn).toBe(false);
    });

    it("releases the door for pulseMs, then locks it", async () => {
      const { r, relay, clock } = await rig();
      await relay.start();
      relay.pulse();
      await expectLevel(r, ON);
      clock.advance(TIMING.pulseMs - 1);
      expect(relay.isOn).toBe(true);
      clock.advance(1);
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
    });

    it("locks after maxPulseMs however often the pulse is extended", async () => {
      const { r, relay, clock } = await rig();
      await relay.start();
      relay.pulse();
      for (let t = 1000; t < TIMING.maxPulseMs; t += 1000) {
        clock.advance(1000);
        relay.pulse();
      }
      expect(relay.isOn).toBe(true);
      clock.advance(1000);
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
    });

    it("locks on stop during a pulse, and stays locked when the pulse would have ended", async () => {
      const { r, relay, clock } = await rig();
      await relay.start();
      relay.pulse();
      await expectLevel(r, ON);
      await relay.stop();
      expect(relay.isOn).toBe(false);
      clock.advance(TIMING.maxPulseMs * 2);
      await expectLevel(r, OFF);
    });

    it("keeps the door locked when pulsed after stop", async () => {
      const { r, relay } = await rig();
      await relay.start();
      await relay.stop();
      relay.pulse();
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
    });

    it("off() locks at once and cancels the pulse", async () => {
      const { r, relay, clock } = await rig();
      await relay.start();
      relay.pulse();
      relay.off();
      expect(relay.isOn).toBe(false);
      await expectLevel(r, OFF);
      clock.advance(TIMING.pulseMs);
      await expectLevel(r, OFF);
    });

    it("surfaces a hardware fault: the pulse throws E_RELAY_FAULT, the fault is readable, the door is not shown open", async () => {
      const { r, relay } = await rig();
      await relay.start();
      await r.breakHardware();
      let thrown: unknown;
      try {
        relay.pulse();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(RelayError);
      expect((thrown as RelayError).code).toBe("E_RELAY_FAULT");
      expect(relay.fault).not.toBeNull();
      expect(relay.isOn).toBe(false);
    });
  });
}
