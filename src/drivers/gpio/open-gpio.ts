import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { GpiodGpio } from "./gpiod-gpio.js";
import { GpioError, type GpioChip } from "./gpio.js";
import { SysfsGpio } from "./sysfs-gpio.js";

export interface GpioSettings {
  /** `auto`: sysfs where the kernel has it, else libgpiod's tools. */
  readonly backend: "auto" | "sysfs" | "gpiod";
  /** The chip's label (or, for gpiod, its name); default: the Pi's header chip. */
  readonly chip?: string;
  /** How often a sysfs input is read. */
  readonly pollMs: number;
}

export interface GpioEnvironment {
  /** `/sys/class/gpio` unless a test says otherwise. */
  readonly sysfsRoot?: string;
  /** Environment for libgpiod's tools (PATH). */
  readonly env?: NodeJS.ProcessEnv;
}

export const SYSFS_GPIO_ROOT = "/sys/class/gpio";

/**
 * The GPIO chip the settings name, chosen when the first line is claimed (constructors and config loading do no
 * I/O), then kept: the relay, the door contact and the indicator share it.
 */
export function lazyGpio(s: GpioSettings, clock: Clock, log: Logger, where: GpioEnvironment = {}): GpioChip {
  let chip: GpioChip | null = null;
  const get = (): GpioChip => (chip ??= openGpio(s, clock, log, where));
  return {
    get name() {
      return chip?.name ?? `gpio:${s.backend}`;
    },
    output: (pin, initialHigh) => get().output(pin, initialHigh),
    input: (pin, bias) => get().input(pin, bias),
  };
}

/** Picks the GPIO backend now: checks which backend exists; lines are claimed by their users. */
export function openGpio(s: GpioSettings, clock: Clock, log: Logger, where: GpioEnvironment = {}): GpioChip {
  const root = where.sysfsRoot ?? SYSFS_GPIO_ROOT;
  const sysfs = () => new SysfsGpio({ root, ...(s.chip !== undefined ? { chip: s.chip } : {}), pollMs: s.pollMs, exportTimeoutMs: 2000 }, clock);
  const gpiod = () => new GpiodGpio({ ...(s.chip !== undefined ? { chip: s.chip } : {}), ...(where.env !== undefined ? { env: where.env } : {}) }, clock, log);
  switch (s.backend) {
    case "sysfs":
      return sysfs();
    case "gpiod":
      return gpiod();
    case "auto":
      if (SysfsGpio.available(root)) return sysfs();
      if (GpiodGpio.available(where.env)) return gpiod();
      throw new GpioError(
        "E_GPIO_UNAVAILABLE",
        `no GPIO access: ${root} has no export file (no sysfs GPIO) and libgpiod's gpioset is not installed (apt install gpiod)`,
      );
  }
}
