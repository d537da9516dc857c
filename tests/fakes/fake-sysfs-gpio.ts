/**
 * A fake `/sys/class/gpio` in a temp folder: the same files the kernel makes, so the sysfs backend runs its real
 * code. There is no kernel behind it, so `exportLine` plays the kernel's part of an export.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeChip {
  readonly name: string;
  readonly label: string;
  readonly base: number;
  readonly ngpio: number;
}

/** A Pi 4 on a Bookworm 6.6 kernel: the header chip at base 512, the firmware expander after it. */
export const PI4_BOOKWORM: FakeChip[] = [
  { name: "gpiochip512", label: "pinctrl-bcm2711", base: 512, ngpio: 58 },
  { name: "gpiochip570", label: "raspberrypi-exp-gpio", base: 570, ngpio: 8 },
];
/** A Pi 5: the header is on the RP1, base 571. */
export const PI5_BOOKWORM: FakeChip[] = [
  { name: "gpiochip512", label: "gpio-brcmstb@107d508500", base: 512, ngpio: 32 },
  { name: "gpiochip571", label: "pinctrl-rp1", base: 571, ngpio: 54 },
];

export class FakeSysfsGpio {
  readonly root: string;

  constructor(chips: FakeChip[] = PI4_BOOKWORM) {
    this.root = mkdtempSync(join(tmpdir(), "qrgate-sysfs-"));
    writeFileSync(join(this.root, "export"), "");
    writeFileSync(join(this.root, "unexport"), "");
    for (const c of chips) {
      mkdirSync(join(this.root, c.name));
      writeFileSync(join(this.root, c.name, "label"), c.label + "\n");
      writeFileSync(join(this.root, c.name, "base"), `${c.base}\n`);
      writeFileSync(join(this.root, c.name, "ngpio"), `${c.ngpio}\n`);
    }
  }

  /** What was last written to `export` (the global line number the driver asked for). */
  get exported(): string {
    return readFileSync(join(this.root, "export"), "utf8");
  }

  /** Makes `gpio<line>/` as the kernel does on export; `value` starts at `level`. */
  exportLine(line: number, level: "0" | "1" = "0"): void {
    const dir = join(this.root, `gpio${line}`);
    if (existsSync(dir)) return;
    mkdirSync(dir);
    writeFileSync(join(dir, "direction"), "in\n");
    writeFileSync(join(dir, "value"), `${level}\n`);
    writeFileSync(join(dir, "active_low"), "0\n");
    writeFileSync(join(dir, "edge"), "none\n");
  }

  read(line: number, file: "direction" | "value" | "active_low"): string | undefined {
    const p = join(this.root, `gpio${line}`, file);
    return existsSync(p) ? readFileSync(p, "utf8").trim() : undefined;
  }

  /** Sets an input's level, as the wire would. */
  setInput(line: number, high: boolean): void {
    writeFileSync(join(this.root, `gpio${line}`, "value"), high ? "1\n" : "0\n");
  }

  /** The line's value file is replaced by a folder: every later write fails (EISDIR), as a vanished line would. */
  breakLine(line: number): void {
    const p = join(this.root, `gpio${line}`, "value");
    rmSync(p, { force: true });
    mkdirSync(p);
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
