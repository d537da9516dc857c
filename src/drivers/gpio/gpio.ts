/**
 * GPIO lines on the Pi's header, numbered as the header's BCM numbers (GPIO17 is 17) whatever the kernel's global
 * numbering. Two backends implement it: sysfs (`/sys/class/gpio`, chip found by label so Bookworm's offset bases
 * 512/571 are handled) and libgpiod's command-line tools (`gpioset`/`gpiomon`) where sysfs GPIO is absent.
 */

/** An output line. */
export interface GpioOutput {
  /**
   * Drives the line. Synchronous so that a crash path can lock a door; throws a {@link GpioError} (`E_GPIO_IO`) when
   * the line cannot be driven, or when the backend learnt since the last write that the line was lost.
   */
  write(high: boolean): void;
  /** Gives the line back to the system. Safe to call twice. */
  release(): Promise<void>;
}

/** An input line, watched for changes. */
export interface GpioInput {
  /** The level last read. */
  readonly level: boolean;
  /**
   * Called on every change of level seen (raw: debouncing is the caller's), on the backend's own schedule (a poll
   * on the injected clock for sysfs, an event from `gpiomon` for libgpiod).
   */
  onChange(fn: (high: boolean) => void): void;
  /** Called when the line can no longer be read (its watcher died); the backend keeps trying to get it back. */
  onFault(fn: (detail: string) => void): void;
  release(): Promise<void>;
}

export type Bias = "as-is" | "pull-up" | "pull-down" | "disable";

/** Hands out lines. Opening a line may take time (udev sets permissions after an export), so it is async. */
export interface GpioChip {
  /** `sysfs:gpiochip512 (pinctrl-bcm2711)`, `gpiod:gpiochip0 v1.6.3`: for logs and `doctor`. */
  readonly name: string;
  /** Claims `pin` as an output already at `initialHigh` (no glitch through the other level where the backend can). */
  output(pin: number, initialHigh: boolean): Promise<GpioOutput>;
  input(pin: number, bias: Bias): Promise<GpioInput>;
}

export type GpioErrorCode = "E_GPIO_NO_CHIP" | "E_GPIO_UNAVAILABLE" | "E_GPIO_BUSY" | "E_GPIO_IO";

export class GpioError extends Error {
  constructor(
    readonly code: GpioErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "GpioError";
  }
}

/** Labels of the chip that carries the 40-pin header, most specific first (Pi 5's RP1, then Pi 4, then older). */
export const HEADER_CHIP_LABELS = ["pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"] as const;

/** Picks the header chip among `labels`: the configured label if any, else the first known header label. */
export function pickHeaderChip<T extends { label: string }>(chips: readonly T[], wanted: string | undefined): T | undefined {
  if (wanted !== undefined) return chips.find((c) => c.label === wanted);
  for (const label of HEADER_CHIP_LABELS) {
    const c = chips.find((x) => x.label === label);
    if (c !== undefined) return c;
  }
  return chips.length === 1 ? chips[0] : undefined;
}
