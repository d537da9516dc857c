/**
 * Fake libgpiod tools (`gpioset`, `gpioget`, `gpiomon`, `gpiodetect`) on a PATH of their own: shell scripts that
 * record every call and keep line levels in files, so the gpiod backend runs its real command lines and child
 * processes. `version` picks the 1.x or the 2.x command-line dialect.
 */
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The scripts, kept as files beside this one so their shell syntax is not mangled by a template string. */
const BIN = fileURLToPath(new URL("./gpiod-bin/", import.meta.url));

export class FakeGpiod {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(version: "v1.6.3" | "v2.1" = "v1.6.3", chips = "gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n") {
    this.dir = mkdtempSync(join(tmpdir(), "qrgate-gpiod-"));
    const bin = join(this.dir, "bin");
    mkdirSync(bin);
    for (const name of ["gpioset", "gpioget", "gpiomon", "gpiodetect"]) {
      copyFileSync(join(BIN, name), join(bin, name));
      chmodSync(join(bin, name), 0o755);
    }
    writeFileSync(join(this.dir, "chips"), chips);
    writeFileSync(join(this.dir, "calls.log"), "");
    this.env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, FAKE_GPIOD_DIR: this.dir, FAKE_GPIOD_VERSION: version };
  }

  /** Every recorded call, one a line: `gpioset --mode=wait gpiochip0 17=0 pid=123`. */
  calls(): string[] {
    return readFileSync(join(this.dir, "calls.log"), "utf8").split("\n").filter((l) => l !== "");
  }

  /** The level gpioset last put on `pin`; undefined when never set. */
  level(pin: number): boolean | undefined {
    const p = join(this.dir, `out-${pin}`);
    return existsSync(p) ? readFileSync(p, "utf8").trim() === "1" : undefined;
  }

  /** Sets what gpioget reads for `pin`. */
  setInput(pin: number, high: boolean): void {
    writeFileSync(join(this.dir, `in-${pin}`), high ? "1\n" : "0\n");
  }

  /** A watched input changes: gpiomon prints the edge (1 rising; falling is 0 in 1.x, 2 in 2.x). */
  edge(pin: number, high: boolean, version: "v1.6.3" | "v2.1" = "v1.6.3"): void {
    this.setInput(pin, high);
    appendFileSync(join(this.dir, `events-${pin}`), high ? "1\n" : version === "v1.6.3" ? "0\n" : "2\n");
  }

  /** From now on gpioset fails as a busy or vanished line does; the running holder is killed. */
  fail(message = "gpioset: error setting the GPIO line values: Device or resource busy"): void {
    writeFileSync(join(this.dir, "fail"), message + "\n");
    const last = this.calls().filter((l) => l.startsWith("gpioset ")).at(-1);
    const pid = Number(/pid=(\d+)/.exec(last ?? "")?.[1]);
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }

  /** gpioset works again. */
  repair(): void {
    rmSync(join(this.dir, "fail"), { force: true });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
