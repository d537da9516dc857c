import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Lifecycle, type Part } from "../../src/services/lifecycle.js";

const log = pino({ level: "silent" });

function recorder() {
  const calls: string[] = [];
  const part = (name: string, over: Partial<Part> = {}): Part => ({
    name,
    start: () => void calls.push(`start ${name}`),
    stop: () => void calls.push(`stop ${name}`),
    ...over,
  });
  return { calls, part };
}

describe("Lifecycle", () => {
  it("starts parts in order and stops them in reverse", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log);
    for (const n of ["relay", "store", "uplink", "scanner"]) lc.add(part(n));
    await lc.start();
    expect(lc.running).toEqual(["relay", "store", "uplink", "scanner"]);
    await lc.stop();
    expect(calls).toEqual([
      "start relay", "start store", "start uplink", "start scanner",
      "stop scanner", "stop uplink", "stop store", "stop relay",
    ]);
    expect(lc.running).toEqual([]);
  });

  it("places a part before or after a named one", () => {
    const { part } = recorder();
    const lc = new Lifecycle(log);
    for (const n of ["relay", "store", "scanner"]) lc.add(part(n));
    lc.add(part("seed"), { after: "store" });
    lc.add(part("door"), { before: "store" });
    expect(lc.order).toEqual(["relay", "door", "store", "seed", "scanner"]);
    expect(() => lc.add(part("x"), { after: "nope" })).toThrow(/no part 'nope'/);
    expect(() => lc.add(part("store"))).toThrow(/duplicate/);
  });

  it("a part that fails to start stops those already started, in reverse, and the error goes up", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log);
    lc.add(part("relay"));
    lc.add(part("store"));
    lc.add(part("uplink", { start: () => Promise.reject(new Error("mqtt.ca: cannot read")) }));
    lc.add(part("scanner"));
    await expect(lc.start()).rejects.toThrow("mqtt.ca: cannot read");
    expect(calls).toEqual(["start relay", "start store", "stop store", "stop relay"]);
    // Stopping again afterwards stops nothing twice.
    await lc.stop();
    expect(calls).toHaveLength(4);
  });

  it("a part that hangs in stop is left behind and the parts before it still stop, within the budget", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log, 200);
    lc.add(part("relay"));
    lc.add(part("uplink", { stop: () => new Promise<void>(() => undefined) }));
    lc.add(part("scanner"));
    await lc.start();
    const t0 = performance.now();
    await lc.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(calls.slice(3)).toEqual(["stop scanner", "stop relay"]);
  });

  it("a part that throws in stop does not keep the others running", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log);
    lc.add(part("relay"));
    lc.add(part("uplink", { stop: () => { throw new Error("boom"); } }));
    await lc.start();
    await lc.stop();
    expect(calls).toEqual(["start relay", "start uplink", "stop relay"]);
  });

  it("a stop during start lets the part being started finish, starts nothing more, and stops what started", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log);
    let release!: () => void;
    lc.add(part("relay"));
    lc.add(part("uplink", { start: () => new Promise<void>((r) => (release = () => { calls.push("start uplink"); r(); })) }));
    lc.add(part("scanner"));
    const started = lc.start();
    await new Promise((r) => setImmediate(r));
    const stopped = lc.stop();
    release();
    await started;
    await stopped;
    expect(calls).toEqual(["start relay", "start uplink", "stop uplink", "stop relay"]);
  });

  it("a part that never finishes starting fails the start after the timeout, and the others stop", async () => {
    const { calls, part } = recorder();
    const lc = new Lifecycle(log, 200, 100);
    lc.add(part("relay"));
    lc.add(part("scanner", { start: () => new Promise<void>(() => undefined) }));
    await expect(lc.start()).rejects.toMatchObject({ code: "E_START_TIMEOUT", message: "scanner did not start within 100 ms" });
    expect(calls).toEqual(["start relay", "stop relay"]);
  });
});
