/**
 * Chooses the scanner and relay drivers the config names. A driver's module is imported here and nowhere else in
 * the gate, so adding a driver touches this file and its own folder only.
 */
import type { Logger } from "pino";
import { alsoScanners, type Config, type ScannerConfig } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";
import type { Clock } from "./clock.js";
import { DoorContact } from "./door/door-contact.js";
import type { GpioChip } from "./gpio/gpio.js";
import { lazyGpio } from "./gpio/open-gpio.js";
import { GpioRelay } from "./relay/gpio-relay.js";
import type { BaseRelay } from "./relay/relay.js";
import { SimRelay } from "./relay/sim-relay.js";
import type { Scanner } from "./scanner/scanner.js";
import { roiProblem } from "./camera/frame-pipeline.js";
import { CameraScanner } from "./scanner/camera-scanner.js";
import { MultiScanner } from "./scanner/multi-scanner.js";
import { HidScanner, parseUsbId } from "./scanner/hid-scanner.js";
import { SerialScanner } from "./scanner/serial-scanner.js";
import { SimScanner } from "./scanner/sim-scanner.js";
import { StdinScanner } from "./scanner/stdin-scanner.js";

export function buildScanner(c: Config, clock: Clock, log: Logger): Scanner {
  if (c.scanner.also.length > 0) return buildScannerList(c, clock, log);
  const framing = {
    suffix: c.scanner.suffix,
    interByteTimeoutMs: c.scanner.interByteTimeoutMs,
    maxCodeBytes: c.scanner.maxCodeBytes,
  };
  const slog = log.child({ module: "scanner" });
  switch (c.scanner.type) {
    case "serial":
      return new SerialScanner(
        { ...framing, path: c.scanner.path as string, baudRate: c.scanner.baudRate, retryMs: c.scanner.retryMs },
        clock,
        slog,
      );
    case "stdin":
      return new StdinScanner(framing, clock, slog);
    case "sim":
      return new SimScanner(clock);
    case "hid":
      return buildHidScanner(c, clock, slog);
    case "camera":
      return buildCameraScanner(c, clock, slog);
  }
}

/** `scanner` plus `scanner.also`: one MultiScanner over all of them. */
function buildScannerList(c: Config, clock: Clock, log: Logger): Scanner {
  const one = (s: ScannerConfig): Scanner => buildScanner({ ...c, scanner: { ...s, also: [] } }, clock, log);
  return new MultiScanner([one(c.scanner), ...alsoScanners(c).map(one)]);
}

/** Checks what the schema cannot (the region of interest against the frame size, a command to run). */
export function cameraConfigProblems(c: Config): string[] {
  const cam = c.scanner.camera;
  const problems: string[] = [];
  if (cam.source === "command" && (cam.command === undefined || cam.command.length === 0)) {
    problems.push("scanner.camera.command: required when scanner.camera.source is 'command'");
  }
  if (cam.roi !== undefined) {
    const p = roiProblem(cam.roi, cam.width, cam.height);
    if (p !== null) problems.push(`scanner.camera.roi: ${p}`);
  }
  if (cam.restartMaxMs < cam.restartMinMs) problems.push("scanner.camera.restartMaxMs: must not be less than restartMinMs");
  return problems;
}

function buildCameraScanner(c: Config, clock: Clock, log: Logger): CameraScanner {
  const problems = cameraConfigProblems(c);
  if (problems.length > 0) throw new ConfigError("scanner.camera", problems);
  return new CameraScanner({ camera: c.scanner.camera, dedupMs: c.dedupMs }, clock, log);
}


function buildHidScanner(c: Config, clock: Clock, log: Logger): Scanner {
  const vendorId = parseUsbId(c.scanner.vendorId);
  const productId = parseUsbId(c.scanner.productId);
  if (c.scanner.path === undefined && (vendorId === undefined || productId === undefined)) {
    throw new ConfigError("scanner", ["hid: set vendorId and productId (as lsusb shows them), or path"]);
  }
  return new HidScanner(
    {
      ...(c.scanner.path !== undefined ? { path: c.scanner.path } : { vendorId, productId }),
      mode: c.scanner.hidMode,
      interByteTimeoutMs: c.scanner.interByteTimeoutMs,
      maxCodeBytes: c.scanner.maxCodeBytes,
      retryMs: c.scanner.retryMs,
    },
    clock,
    log,
  );
}

/**
 * The GPIO chip the relay, the door contact and the indicator share; nothing is touched until a line is claimed.
 * `QRGATE_DEBUG_SYSFS_GPIO=DIR` points the sysfs backend at a fake tree: the crash-path tests run a real
 * `qrgate run` against one, as they arm QRGATE_DEBUG_THROW.
 */
export function buildGpio(c: Config, clock: Clock, log: Logger, env: NodeJS.ProcessEnv = process.env): GpioChip {
  const root = env.QRGATE_DEBUG_SYSFS_GPIO;
  return lazyGpio(c.gpio, clock, log.child({ module: "gpio" }), root !== undefined && root !== "" ? { sysfsRoot: root } : {});
}

/** The door contact the config names, or null when `door` has no contact. */
export function buildDoorContact(c: Config, gpio: GpioChip, clock: Clock, log: Logger): DoorContact | null {
  const d = c.doorContact;
  if (d === undefined) return null;
  return new DoorContact(gpio, { pin: d.pin, openLevel: d.openLevel, bias: d.bias, debounceMs: d.debounceMs }, clock, log.child({ module: "door" }));
}

export function buildRelay(c: Config, clock: Clock, log: Logger, gpio: GpioChip = buildGpio(c, clock, log)): BaseRelay {
  const timing = { pulseMs: c.relay.pulseMs, maxPulseMs: c.relay.maxPulseMs, activeLow: c.relay.activeLow };
  switch (c.relay.type) {
    case "sim":
      return new SimRelay(timing, clock, log.child({ module: "relay" }));
    case "gpio":
      if (c.relay.pin === undefined) throw new ConfigError("relay", ["missing required key 'pin'"]);
      return new GpioRelay(gpio, c.relay.pin, timing, clock, log.child({ module: "relay" }));
  }
}
