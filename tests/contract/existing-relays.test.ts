/** The simulated relay and the test fakes run the relay contract, so the fakes cannot drift from the drivers. */
import { pino } from "pino";
import { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { FakeRelay } from "../fakes/fake-relay.js";
import { relayContract } from "./relay-contract.js";

const log = pino({ level: "silent" });

relayContract("sim", (timing, clock) => {
  const relay = new SimRelay(timing, clock, log);
  let broken = false;
  // SimRelay has no hardware to break; a subclass hook stands in for a failing line so the fault path is exercised.
  const original = (relay as unknown as { writeLevel: (h: boolean) => void }).writeLevel.bind(relay);
  (relay as unknown as { writeLevel: (h: boolean) => void }).writeLevel = (h) => {
    if (broken) throw new Error("EIO");
    original(h);
  };
  return Promise.resolve({
    relay,
    level: () => relay.levels.at(-1),
    breakHardware: () => {
      broken = true;
    },
    dispose: () => relay.stop(),
  });
});

relayContract("fake", (timing, clock) => {
  const relay = new FakeRelay(timing, clock);
  return Promise.resolve({ relay, level: () => relay.level, breakHardware: () => relay.breakHardware(), dispose: () => relay.stop() });
});
