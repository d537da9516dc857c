/** Switching scanner.type and relay.type is configuration only: the factory builds each driver, touching no device. */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { validateConfig } from "../../src/config/load-config.js";
import { buildDoorContact, buildGpio, buildRelay, buildScanner } from "../../src/drivers/driver-factory.js";
import { GpioRelay } from "../../src/drivers/relay/gpio-relay.js";
import { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { HidScanner } from "../../src/drivers/scanner/hid-scanner.js";
import { SerialScanner } from "../../src/drivers/scanner/serial-scanner.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { StdinScanner } from "../../src/drivers/scanner/stdin-scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";

const log = pino({ level: "silent" });
const clock = new FakeClock();

describe("driver factory", () => {
  it.each([
    [{ type: "serial", path: "/dev/ttyACM0" }, SerialScanner, "serial:/dev/ttyACM0"],
    [{ type: "hid", vendorId: "0c2e", productId: "0b61" }, HidScanner, "hid:0c2e:0b61"],
    [{ type: "hid", path: "/dev/hidraw2" }, HidScanner, "hid:/dev/hidraw2"],
    [{ type: "stdin" }, StdinScanner, "stdin"],
    [{ type: "sim" }, SimScanner, "sim"],
  ])("scanner %j", (scanner, cls, name) => {
    const s = buildScanner(validateConfig({ scanner }, "test"), clock, log);
    expect(s).toBeInstanceOf(cls);
    expect(s.name).toBe(name);
  });

  it("refuses a HID scanner with neither USB IDs nor a path, plainly", () => {
    expect(() => buildScanner(validateConfig({ scanner: { type: "hid", vendorId: 3118 } }, "test"), clock, log)).toThrow(ConfigError);
  });

  it.each([
    [{ type: "gpio", pin: 17, activeLow: true }, GpioRelay],
    [{ type: "sim" }, SimRelay],
  ])("relay %j, built without touching GPIO", (relay, cls) => {
    // An environment with no sysfs tree and no libgpiod: building must still succeed (the line is claimed at start).
    const c = validateConfig({ relay }, "test");
    const r = buildRelay(c, clock, log, buildGpio(c, clock, log, { QRGATE_DEBUG_SYSFS_GPIO: "/nonexistent" }));
    expect(r).toBeInstanceOf(cls);
  });

  it("builds a door contact only when door has one", () => {
    const gpio = buildGpio(validateConfig({}, "test"), clock, log);
    expect(buildDoorContact(validateConfig({ door: "main" }, "test"), gpio, clock, log)).toBeNull();
    expect(buildDoorContact(validateConfig({ door: { contact: { pin: 27 } } }, "test"), gpio, clock, log)).not.toBeNull();
  });
});
