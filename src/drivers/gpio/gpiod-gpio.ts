import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";
import { GpioError, pickHeaderChip, type Bias, type GpioChip, type GpioInput, type GpioOutput } from "./gpio.js";

export interface GpiodOptions {
  /** Chip name (`gpiochip0`), number or label; default: the header chip found with `gpiodetect`. */
  readonly chip?: string;
  /** Environment for the tools (tests put fake binaries first on PATH). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A holder that outlives this is taken as working: a fault clears. */
const HOLD_OK_MS = 300;
/** Wait before asking for a line again after its holder or watcher died. */
const RESPAWN_MS = 1000;

interface DetectedChip {
  readonly name: string;
  readonly label: string;
}

/** `gpiochip0 [pinctrl-bcm2711] (58 lines)`, the same in libgpiod 1.x and 2.x. */
export function parseGpiodetect(out: string): DetectedChip[] {
  const chips: DetectedChip[] = [];
  for (const line of out.split("\n")) {
    const m = /^(\S+)\s+\[([^\]]*)\]/.exec(line.trim());
    if (m !== null) chips.push({ name: m[1] as string, label: m[2] as string });
  }
  return chips;
}

/**
 * GPIO through libgpiod's command-line tools, for kernels without sysfs GPIO. A line keeps its level only while a
 * process holds it, so each output has a holder child: libgpiod 1.x `gpioset --mode=wait` (ends on a newline or when
 * our end of its stdin closes, so a dead gate never leaves a line driven), replaced on each change; libgpiod 2.x
 * `gpioset --interactive`, told `set N=V` on stdin. Inputs are watched by a `gpiomon` child.
 */
export class GpiodGpio implements GpioChip {
  private major: 1 | 2 | null = null;
  private chip: string | null = null;

  constructor(
    private readonly opts: GpiodOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return `gpiod:${this.chip ?? "?"} v${this.major ?? "?"}`;
  }

  /** True when `gpioset` runs. */
  static available(env?: NodeJS.ProcessEnv): boolean {
    try {
      execFileSync("gpioset", ["--version"], { env, stdio: ["ignore", "pipe", "ignore"] });
      return true;
    } catch {
      return false;
    }
  }

  /** The libgpiod major version (their command lines differ) and the chip to use. */
  resolve(): { major: 1 | 2; chip: string } {
    if (this.major !== null && this.chip !== null) return { major: this.major, chip: this.chip };
    let version: string;
    try {
      version = execFileSync("gpioset", ["--version"], { env: this.opts.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      throw new GpioError("E_GPIO_UNAVAILABLE", `libgpiod's gpioset is not usable (${(e as Error).message.split("\n")[0]}): apt install gpiod`);
    }
    const m = /v(\d+)\./.exec(version);
    this.major = m?.[1] === "1" ? 1 : 2;
    let detected: DetectedChip[] = [];
    try {
      detected = parseGpiodetect(execFileSync("gpiodetect", [], { env: this.opts.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    } catch (e) {
      if (this.opts.chip === undefined) throw new GpioError("E_GPIO_NO_CHIP", `gpiodetect failed: ${(e as Error).message.split("\n")[0]}`);
    }
    const wanted = this.opts.chip;
    const byName = wanted === undefined ? undefined : detected.find((c) => c.name === wanted || c.name === `gpiochip${wanted}`);
    const found = byName ?? pickHeaderChip(detected, wanted);
    if (found === undefined) {
      if (wanted !== undefined && detected.length === 0) {
        this.chip = wanted; // gpiodetect gave nothing: trust the configured name and let gpioset judge it
      } else {
        const seen = detected.map((c) => `${c.name} '${c.label}'`).join(", ") || "none";
        throw new GpioError("E_GPIO_NO_CHIP", `no GPIO chip ${wanted !== undefined ? `'${wanted}'` : "for the Pi's header"} (chips: ${seen}); set gpio.chip`);
      }
    } else {
      this.chip = found.name;
    }
    return { major: this.major, chip: this.chip };
  }

  output(pin: number, initialHigh: boolean): Promise<GpioOutput> {
    const { major, chip } = this.resolve();
    return Promise.resolve(new GpiodOutput(major, chip, pin, initialHigh, this.opts.env, this.clock, this.log));
  }

  input(pin: number, bias: Bias): Promise<GpioInput> {
    const { major, chip } = this.resolve();
    const input = new GpiodInput(major, chip, pin, bias, this.opts.env, this.clock, this.log);
    input.begin();
    return Promise.resolve(input);
  }
}

function firstLine(s: string): string {
  return s.trim().split("\n").at(-1) ?? "";
}

class GpiodOutput implements GpioOutput {
  private holder: ChildProcess | null = null;
  /** The holder was asked to end (a new level is coming, or release). */
  private ending = false;
  private desired: boolean;
  private fault: string | null = null;
  private released = false;
  private okTimer: CancelTimer | null = null;
  private respawn: CancelTimer | null = null;
  private spawnedLevel = false;
  private releaseDone: Promise<void> | null = null;
  private finalExit: () => void = () => undefined;

  constructor(
    private readonly major: 1 | 2,
    private readonly chip: string,
    private readonly pin: number,
    initialHigh: boolean,
    private readonly env: NodeJS.ProcessEnv | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.desired = initialHigh;
    this.spawnHolder();
  }

  write(high: boolean): void {
    if (this.released) throw new GpioError("E_GPIO_IO", `GPIO${this.pin} was released`);
    const fault = this.fault;
    // Refused before it is remembered: a later respawn must not drive a level nobody is timing.
    if (fault !== null && high) throw new GpioError("E_GPIO_IO", `GPIO${this.pin} not driven: ${fault}`);
    this.desired = high;
    if (this.holder === null) {
      this.respawn?.();
      this.respawn = null;
      this.spawnHolder();
    } else if (this.major === 2) {
      this.holder.stdin?.write(`set ${this.pin}=${high ? 1 : 0}\n`);
    } else if (!this.ending) {
      // libgpiod 1.x cannot change a held line: end this holder; its exit starts the next at `desired`.
      this.ending = true;
      this.holder.stdin?.end();
    }
    if (fault !== null) throw new GpioError("E_GPIO_IO", `GPIO${this.pin}: ${fault}`);
  }

  /** Ends the holder once the last level asked for is on the line, so the last thing written stays "off". */
  release(): Promise<void> {
    if (this.releaseDone !== null) return this.releaseDone;
    this.released = true;
    this.respawn?.();
    this.okTimer?.();
    this.releaseDone = new Promise((resolve) => (this.finalExit = resolve));
    const h = this.holder;
    if (h === null) this.finalExit();
    else if (!this.ending) {
      this.ending = true;
      h.stdin?.end();
    }
    return this.releaseDone;
  }

  private spawnHolder(): ChildProcess {
    const level = this.desired ? 1 : 0;
    this.spawnedLevel = this.desired;
    const args =
      this.major === 1 ? ["--mode=wait", this.chip, `${this.pin}=${level}`] : ["--interactive", "-c", this.chip, `${this.pin}=${level}`];
    const child = spawn("gpioset", args, { env: this.env, stdio: ["pipe", "ignore", "pipe"] });
    this.holder = child;
    this.ending = false;
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    child.stdin?.on("error", () => undefined); // EPIPE when the holder died first; its exit says why
    child.on("error", (e) => {
      this.fault = `gpioset: ${e.message}`;
    });
    this.okTimer?.();
    this.okTimer = this.clock.setTimer(HOLD_OK_MS, () => {
      this.okTimer = null;
      if (this.holder === child) this.fault = null;
    });
    child.on("exit", (code, signal) => {
      if (this.holder !== child) return;
      this.holder = null;
      if (this.ending && (!this.released || (this.major === 1 && this.spawnedLevel !== this.desired))) {
        const next = this.spawnHolder();
        if (this.released) {
          this.ending = true;
          next.stdin?.end();
        }
        return;
      }
      if (this.released) {
        this.finalExit();
        return;
      }
      this.fault = firstLine(stderr) || `gpioset exited (${code ?? signal ?? "?"})`;
      this.log.error({ pin: this.pin, retryMs: RESPAWN_MS }, `GPIO${this.pin} holder died: ${this.fault}`);
      this.respawn = this.clock.setTimer(RESPAWN_MS, () => {
        this.respawn = null;
        if (!this.released && this.holder === null) this.spawnHolder();
      });
    });
    return child;
  }
}

class GpiodInput implements GpioInput {
  private current = false;
  private watcher: ChildProcess | null = null;
  private released = false;
  private respawn: CancelTimer | null = null;
  private readonly changes: Array<(h: boolean) => void> = [];
  private readonly faults: Array<(d: string) => void> = [];

  constructor(
    private readonly major: 1 | 2,
    private readonly chip: string,
    private readonly pin: number,
    private readonly bias: Bias,
    private readonly env: NodeJS.ProcessEnv | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get level(): boolean {
    return this.current;
  }

  onChange(fn: (h: boolean) => void): void {
    this.changes.push(fn);
  }

  onFault(fn: (d: string) => void): void {
    this.faults.push(fn);
  }

  /** Reads the level once, then watches edges. Throws when the line cannot be read at all. */
  begin(): void {
    this.set(this.readOnce());
    this.watch();
  }

  release(): Promise<void> {
    this.released = true;
    this.respawn?.();
    const w = this.watcher;
    if (w === null) return Promise.resolve();
    return new Promise((resolve) => {
      w.once("exit", () => resolve());
      w.kill("SIGTERM");
    });
  }

  private biasArgs(): string[] {
    if (this.bias === "as-is") return [];
    const b = this.major === 2 && this.bias === "disable" ? "disabled" : this.bias;
    return this.major === 1 ? [`--bias=${b}`] : ["--bias", b];
  }

  private readOnce(): boolean {
    const args =
      this.major === 1 ? [...this.biasArgs(), this.chip, String(this.pin)] : ["-c", this.chip, "--numeric", ...this.biasArgs(), String(this.pin)];
    try {
      return execFileSync("gpioget", args, { env: this.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim() === "1";
    } catch (e) {
      throw new GpioError("E_GPIO_IO", `cannot read GPIO${this.pin}: ${firstLine((e as { stderr?: string }).stderr ?? (e as Error).message)}`);
    }
  }

  private set(high: boolean): void {
    if (high === this.current) return;
    this.current = high;
    for (const fn of this.changes) fn(high);
  }

  private watch(): void {
    // %e: 1 is a rising edge in both versions (falling is 0 in 1.x, 2 in 2.x).
    const args =
      this.major === 1
        ? ["--line-buffered", "--format=%e", ...this.biasArgs(), this.chip, String(this.pin)]
        : ["-c", this.chip, "--format=%e", ...this.biasArgs(), String(this.pin)];
    const child = spawn("gpiomon", args, { env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.watcher = child;
    let buf = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => {
      buf += b.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const ev = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (ev !== "") this.set(ev === "1");
      }
    });
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    child.on("error", (e) => (stderr += e.message));
    child.on("exit", (code) => {
      if (this.watcher !== child) return;
      this.watcher = null;
      if (this.released) return;
      const why = `GPIO${this.pin} watcher gpiomon ended (${code ?? "signal"}): ${firstLine(stderr) || "no message"}`;
      this.log.error({ pin: this.pin, retryMs: RESPAWN_MS }, why);
      for (const fn of this.faults) fn(why);
      this.respawn = this.clock.setTimer(RESPAWN_MS, () => {
        this.respawn = null;
        if (this.released) return;
        try {
          this.set(this.readOnce());
          this.watch();
        } catch (e) {
          for (const fn of this.faults) fn((e as Error).message);
          this.respawn = this.clock.setTimer(RESPAWN_MS, () => this.watch());
        }
      });
    });
  }
}
