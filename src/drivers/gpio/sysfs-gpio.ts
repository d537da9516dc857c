import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CancelTimer, Clock } from "../clock.js";
import { GpioError, pickHeaderChip, type Bias, type GpioChip, type GpioInput, type GpioOutput } from "./gpio.js";

export interface SysfsChipInfo {
  /** `gpiochip512` */
  readonly name: string;
  readonly label: string;
  /** The kernel's global number of line 0: 0 on old kernels, 512 or 571 on Bookworm 6.6+ (Pi 5: 571). */
  readonly base: number;
  readonly ngpio: number;
}

export interface SysfsGpioOptions {
  /** `/sys/class/gpio`; a temp folder with the same files in tests. */
  readonly root: string;
  /** The chip's label; default: the header chip of any Pi. */
  readonly chip?: string;
  /** How often inputs are read (sysfs edge interrupts need epoll, which Node lacks). */
  readonly pollMs: number;
  /** How long an export may take to appear with usable permissions (udev runs after the kernel makes the files). */
  readonly exportTimeoutMs: number;
}

const readText = (p: string): string => readFileSync(p, "utf8").trim();

/** Lists the chips under a sysfs GPIO root. */
export function listSysfsChips(root: string): SysfsChipInfo[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith("gpiochip"));
  } catch {
    return [];
  }
  const chips: SysfsChipInfo[] = [];
  for (const name of names) {
    try {
      chips.push({
        name,
        label: readText(join(root, name, "label")),
        base: Number(readText(join(root, name, "base"))),
        ngpio: Number(readText(join(root, name, "ngpio"))),
      });
    } catch {
      // A chip folder without its files is not one we can use; the others may be.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? "";
}

/**
 * GPIO through sysfs, written by hand rather than with onoff: onoff hard-codes `/sys/class/gpio` (so it cannot run on
 * a test tree) and numbers lines globally (so header pin 17 is not line 17 on a Bookworm kernel, onoff #199/#200).
 */
export class SysfsGpio implements GpioChip {
  private chip: SysfsChipInfo | null = null;

  constructor(
    private readonly opts: SysfsGpioOptions,
    private readonly clock: Clock,
  ) {}

  get name(): string {
    return this.chip === null ? `sysfs:${this.opts.root}` : `sysfs:${this.chip.name} (${this.chip.label}, base ${this.chip.base})`;
  }

  /** True when the root has an export file: the kernel has sysfs GPIO. */
  static available(root: string): boolean {
    return existsSync(join(root, "export"));
  }

  /** The header chip, found by label; throws `E_GPIO_NO_CHIP` naming the labels seen. */
  headerChip(): SysfsChipInfo {
    if (this.chip !== null) return this.chip;
    if (!SysfsGpio.available(this.opts.root)) {
      throw new GpioError("E_GPIO_UNAVAILABLE", `no sysfs GPIO at ${this.opts.root} (kernel without CONFIG_GPIO_SYSFS): use gpio.backend "gpiod"`);
    }
    const chips = listSysfsChips(this.opts.root);
    const chip = pickHeaderChip(chips, this.opts.chip);
    if (chip === undefined) {
      const seen = chips.map((c) => `${c.name} '${c.label}'`).join(", ") || "none";
      const want = this.opts.chip !== undefined ? `labelled '${this.opts.chip}'` : "for the Pi's header";
      throw new GpioError("E_GPIO_NO_CHIP", `no GPIO chip ${want} under ${this.opts.root} (chips: ${seen}); set gpio.chip to one of the labels`);
    }
    this.chip = chip;
    return chip;
  }

  async output(pin: number, initialHigh: boolean): Promise<GpioOutput> {
    const dir = await this.export(pin);
    // "high"/"low" sets the direction and the level in one write: the line never shows the other level.
    this.writeFile(join(dir, "direction"), initialHigh ? "high" : "low", pin);
    const value = join(dir, "value");
    let released = false;
    return {
      write: (high) => {
        if (released) throw new GpioError("E_GPIO_IO", `GPIO${pin} was released`);
        this.writeFile(value, high ? "1" : "0", pin);
      },
      release: async () => {
        if (released) return;
        released = true;
        await Promise.resolve();
        this.unexport(pin);
      },
    };
  }

  async input(pin: number, _bias: Bias): Promise<GpioInput> {
    // sysfs cannot set a bias: the README says to set it in config.txt (`gpio=27=ip,pu`) or wire a resistor.
    const dir = await this.export(pin);
    this.writeFile(join(dir, "direction"), "in", pin);
    const value = join(dir, "value");
    const read = (): boolean => readText(value) === "1";
    let level = read();
    const changes: Array<(h: boolean) => void> = [];
    const faults: Array<(d: string) => void> = [];
    let timer: CancelTimer | null = null;
    let failing = false;
    const poll = (): void => {
      timer = this.clock.setTimer(this.opts.pollMs, () => {
        try {
          const now = read();
          failing = false;
          if (now !== level) {
            level = now;
            for (const fn of changes) fn(now);
          }
        } catch (e) {
          if (!failing) for (const fn of faults) fn(`GPIO${pin} unreadable: ${(e as Error).message}`);
          failing = true;
        }
        poll();
      });
    };
    poll();
    return {
      get level() {
        return level;
      },
      onChange: (fn) => changes.push(fn),
      onFault: (fn) => faults.push(fn),
      release: async () => {
        timer?.();
        timer = null;
        await Promise.resolve();
        this.unexport(pin);
      },
    };
  }

  /** Exports header pin `pin` (global line base + pin) and waits until its value file is writable. */
  private async export(pin: number): Promise<string> {
    const chip = this.headerChip();
    if (!Number.isInteger(pin) || pin < 0 || pin >= chip.ngpio) {
      throw new GpioError("E_GPIO_IO", `GPIO${pin} is not a line of ${chip.label} (0…${chip.ngpio - 1})`);
    }
    const line = chip.base + pin;
    const dir = join(this.opts.root, `gpio${line}`);
    if (!existsSync(dir)) {
      try {
        writeFileSync(join(this.opts.root, "export"), String(line));
      } catch (e) {
        if (errno(e) === "EBUSY") throw new GpioError("E_GPIO_BUSY", `GPIO${pin} (line ${line}) is held by another driver or program`);
        if (errno(e) === "EACCES") throw new GpioError("E_GPIO_IO", `no permission to export GPIO${pin}: add the qrgate user to the gpio group`);
        throw new GpioError("E_GPIO_IO", `cannot export GPIO${pin} (line ${line}): ${(e as Error).message}`);
      }
    }
    // udev changes the new files' group a few ms after the export; until then writes fail with EACCES.
    const deadline = this.clock.monoMs() + this.opts.exportTimeoutMs;
    for (;;) {
      try {
        writeFileSync(join(dir, "active_low"), "0");
        return dir;
      } catch (e) {
        if (this.clock.monoMs() >= deadline) {
          throw new GpioError("E_GPIO_IO", `GPIO${pin} (line ${line}) exported but not usable after ${this.opts.exportTimeoutMs} ms: ${(e as Error).message}`);
        }
        await new Promise<void>((resolve) => this.clock.setTimer(20, resolve));
      }
    }
  }

  private unexport(pin: number): void {
    const chip = this.chip;
    if (chip === null) return;
    try {
      writeFileSync(join(this.opts.root, "unexport"), String(chip.base + pin));
    } catch {
      // Already gone; nothing to give back.
    }
  }

  private writeFile(path: string, text: string, pin: number): void {
    try {
      writeFileSync(path, text);
    } catch (e) {
      throw new GpioError("E_GPIO_IO", `cannot write GPIO${pin}: ${(e as Error).message}`);
    }
  }
}
