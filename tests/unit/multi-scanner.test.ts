import pino from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { validateConfig } from "../../src/config/load-config.js";
import { buildScanner } from "../../src/drivers/driver-factory.js";
import { MultiScanner } from "../../src/drivers/scanner/multi-scanner.js";
import type { Scanner, ScannerListener, ScannedCode } from "../../src/drivers/scanner/scanner.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";

const log = pino({ level: "silent" });

class Refusing implements Scanner {
  readonly name = "refusing";
  start(): Promise<void> {
    return Promise.reject(new Error("no such device"));
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

function recorder() {
  const codes: string[] = [];
  const states: string[] = [];
  const listener: ScannerListener = {
    code: (c: ScannedCode) => codes.push(c.bytes.toString("utf8")),
    state: (s, d) => states.push(`${s} ${d}`),
  };
  return { codes, states, listener };
}

describe("two scanners on one door", () => {
  it("delivers the codes of every scanner to the one gate, and names each in its state", async () => {
    const clock = new FakeClock();
    const a = new SimScanner(clock);
    const b = new SimScanner(clock);
    const m = new MultiScanner([a, b]);
    const r = recorder();
    await m.start(r.listener);
    a.emit("from a");
    b.emit("from b");
    expect(r.codes).toEqual(["from a", "from b"]);
    expect(r.states).toEqual(["connected sim", "connected sim"]);
    await m.stop();
    expect(() => a.emit("late")).toThrow(/before start/);
    expect(() => b.emit("late")).toThrow(/before start/);
  });

  it("if one cannot start, the others are stopped and the error is thrown", async () => {
    const a = new SimScanner(new FakeClock());
    await expect(new MultiScanner([a, new Refusing()]).start(recorder().listener)).rejects.toThrow("no such device");
    expect(() => a.emit("x")).toThrow(/before start/);
  });

  it("scanner.also in the config builds a serial scanner and a camera together, each with its defaults", () => {
    const c = validateConfig({ scanner: { type: "serial", path: "/dev/ttyACM0", also: [{ type: "camera", camera: { device: "/dev/video2" } }] } }, "test");
    expect(c.scanner.also[0]?.camera).toMatchObject({ source: "usb", device: "/dev/video2", width: 640, height: 480 });
    expect(buildScanner(c, new FakeClock(), log).name).toBe("serial:/dev/ttyACM0+camera:/dev/video2");
  });

  it("a listed scanner is checked like scanner itself, every problem with its path", () => {
    const bad = () => validateConfig({ scanner: { type: "stdin", also: [{ type: "serial" }, { type: "camera", camera: { width: 3 } }, { type: "sim", also: [{ type: "sim" }] }] } }, "test");
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        "scanner.also.0: missing required key 'path'",
        "scanner.also.1.camera.width: must be >= 16",
        "scanner.also.2.also: a listed scanner cannot list more",
      ]);
    }
  });
});
