import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { GpioError, type GpioChip, type GpioOutput } from "../gpio/gpio.js";
import { BaseRelay, type RelayTiming } from "./relay.js";

/**
 * A door strike on a GPIO line (a relay board's IN pin). The line is claimed at start already at the "off" level,
 * so the coil never twitches on a restart.
 */
export class GpioRelay extends BaseRelay {
  private out: GpioOutput | null = null;

  constructor(
    private readonly gpio: GpioChip,
    private readonly pin: number,
    timing: RelayTiming,
    clock: Clock,
    log: Logger,
  ) {
    super(timing, clock, log);
  }

  protected override async openHardware(): Promise<void> {
    if (this.out !== null) return;
    // Off is high for an active-low board.
    this.out = await this.gpio.output(this.pin, this.timing.activeLow);
    this.log.info({ pin: this.pin, gpio: this.gpio.name }, "relay line claimed");
  }

  protected override async closeHardware(): Promise<void> {
    const out = this.out;
    this.out = null;
    await out?.release();
  }

  protected writeLevel(high: boolean): void {
    if (this.out === null) throw new GpioError("E_GPIO_IO", `GPIO${this.pin} is not claimed (relay not started)`);
    this.out.write(high);
  }
}
