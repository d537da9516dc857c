/** `qrgate relay-off`: the hook systemd's ExecStopPost runs to lock the strike after a crash or a watchdog kill. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { FakeGpiod } from "../fakes/fake-gpiod.js";

function configFile(relay: Record<string, unknown>, more: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-relay-off-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ relay, gpio: { backend: "gpiod" }, store: { path: join(dir, "q.db") }, ...more }));
  return path;
}

describe("qrgate relay-off", () => {
  const fakes: FakeGpiod[] = [];
  afterEach(() => {
    for (const f of fakes.splice(0)) f.dispose();
  });

  it.each([
    [false, "17=0"],
    [true, "17=1"],
  ])("drives the relay line to its locked level (activeLow %s) and exits 0", (activeLow, level) => {
    const fake = new FakeGpiod();
    fakes.push(fake);
    const r = runCli(["relay-off", "--config", configFile({ type: "gpio", pin: 17, activeLow })], { env: fake.env });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^relay off: GPIO17 at its locked level/);
    const sets = fake.calls().filter((c) => c.startsWith("gpioset --mode=wait"));
    expect(sets.length).toBeGreaterThan(0);
    expect(sets.every((c) => c.includes(` gpiochip0 ${level} `))).toBe(true);
  });

  it("still locks when the rest of the configuration is broken (a missing CA file, an unknown key)", () => {
    const fake = new FakeGpiod();
    fakes.push(fake);
    const path = configFile({ type: "gpio", pin: 17, activeLow: true }, { mqtt: { url: "mqtts://broker.example:8883", ca: "/nonexistent/ca.pem" }, colour: "red" });
    const r = runCli(["relay-off", "--config", path], { env: fake.env });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/has problems \(.*unknown key 'colour'.*\); using its relay and gpio keys/);
    expect(fake.level(17)).toBe(true);
  });

  it("says so in one line and exits 1 when the line cannot be driven", () => {
    const fake = new FakeGpiod();
    fakes.push(fake);
    const r = runCli(["relay-off", "--config", configFile({ type: "gpio", pin: 17 })], { env: { ...fake.env, PATH: "/nonexistent" } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/relay-off: GPIO17 not locked: .*gpioset is not usable.*apt install gpiod/);
  });

  it("has nothing to do with a simulated relay", () => {
    const r = runCli(["relay-off", "--config", configFile({ type: "sim" })]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/relay.type is sim/);
  });
});
