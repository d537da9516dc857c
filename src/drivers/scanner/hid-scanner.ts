import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";
import { HID_POS_USAGE_PAGE, KeyboardReportParser, PosReportParser, type HidReportParser } from "./hid-reports.js";
import { HidUnavailableError, nodeHidBackend, type HidBackend, type HidDevice, type HidDeviceInfo } from "./hid-device.js";
import type { Scanner, ScannerListener } from "./scanner.js";

export interface HidScannerOptions {
  /** Select by USB IDs (with `productId`), or by `path`. */
  readonly vendorId?: number;
  readonly productId?: number;
  readonly path?: string;
  /** `auto`: POS when the device's usage page is 0x8C, else keyboard. */
  readonly mode: "auto" | "pos" | "keyboard";
  /** A half-received code with no report for this long is dropped. */
  readonly interByteTimeoutMs: number;
  readonly maxCodeBytes: number;
  /** How often a missing device is looked for. */
  readonly retryMs: number;
}

/** Parses `"0c2e"`, `"0x0C2E"` or a number as a 16-bit USB ID. */
export function parseUsbId(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === "number" ? v : Number.parseInt(v.replace(/^0x/i, ""), 16);
}

const hex = (n: number): string => n.toString(16).padStart(4, "0");

/** Among the interfaces of the configured device, the one to read: the POS interface if there is one. */
export function pickHidInterface(all: readonly HidDeviceInfo[], o: Pick<HidScannerOptions, "vendorId" | "productId" | "path" | "mode">): HidDeviceInfo | undefined {
  const mine = all.filter((d) =>
    o.path !== undefined ? d.path === o.path : d.vendorId === o.vendorId && (o.productId === undefined || d.productId === o.productId),
  );
  const pos = mine.find((d) => d.usagePage === HID_POS_USAGE_PAGE);
  // A keyboard-emulation scanner shows a keyboard interface (Generic Desktop, usage 6).
  const keyboard = mine.find((d) => d.usagePage === 0x01 && d.usage === 0x06);
  if (o.mode === "pos") return pos ?? mine[0];
  if (o.mode === "keyboard") return keyboard ?? mine[0];
  return pos ?? keyboard ?? mine[0];
}

/**
 * A USB HID scanner, in HID POS or keyboard-emulation mode. A device that is absent at start or unplugged later is
 * reported `lost` and looked for every `retryMs`; it resumes when it is back, without a restart.
 */
export class HidScanner implements Scanner {
  readonly name: string;
  private listener: ScannerListener | null = null;
  private started = false;
  private device: HidDevice | null = null;
  private parser: HidReportParser | null = null;
  private retry: CancelTimer | null = null;
  private partial: CancelTimer | null = null;
  private lastProblem = "";
  private warnedKeyboard = false;

  constructor(
    private readonly opts: HidScannerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly backend: HidBackend = nodeHidBackend,
  ) {
    this.name = opts.path !== undefined ? `hid:${opts.path}` : `hid:${hex(opts.vendorId ?? 0)}:${opts.productId !== undefined ? hex(opts.productId) : "*"}`;
  }

  async start(listener: ScannerListener): Promise<void> {
    this.listener = listener;
    if (this.started) return;
    this.started = true;
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.retry?.();
    this.retry = null;
    this.partial?.();
    this.partial = null;
    this.parser = null;
    const d = this.device;
    this.device = null;
    await d?.close();
  }

  private async attempt(): Promise<void> {
    if (!this.started) return;
    let problem: string;
    try {
      const info = pickHidInterface(await this.backend.devices(), this.opts);
      if (!this.started) return;
      if (info?.path === undefined) {
        problem = `${this.describe()} is not connected: is the scanner plugged in, and are vendorId/productId right?`;
      } else {
        const dev = await this.backend.open(info.path);
        if (!this.started) {
          await dev.close();
          return;
        }
        this.attach(dev, info);
        return;
      }
    } catch (e) {
      if (e instanceof HidUnavailableError) problem = e.message;
      else if (/permission|EACCES|cannot open/i.test((e as Error).message)) {
        problem = `cannot open ${this.describe()}: ${(e as Error).message} (install the udev rule from the README)`;
      } else problem = `cannot open ${this.describe()}: ${(e as Error).message}`;
    }
    this.lost(problem);
  }

  private attach(dev: HidDevice, info: HidDeviceInfo): void {
    const pos = this.opts.mode === "pos" || (this.opts.mode === "auto" && info.usagePage === HID_POS_USAGE_PAGE);
    this.parser = pos ? new PosReportParser(this.opts.maxCodeBytes) : new KeyboardReportParser(this.opts.maxCodeBytes);
    this.device = dev;
    this.lastProblem = "";
    dev.on("data", (report) => {
      if (this.device === dev) this.onReport(report);
    });
    dev.on("error", (e) => {
      if (this.device !== dev) return;
      this.device = null;
      this.parser = null;
      this.partial?.();
      this.partial = null;
      void dev.close();
      this.log.error({ err: e.message }, "HID scanner disconnected");
      this.lost(`${this.describe()} went away (unplugged?)`);
    });
    const mode = pos ? "pos" : "keyboard";
    this.log.info({ device: this.name, mode, product: info.product }, "HID scanner connected");
    if (!pos && !this.warnedKeyboard) {
      this.warnedKeyboard = true;
      this.log.warn(
        { device: this.name },
        "HID scanner in keyboard-emulation mode: only ASCII arrives, Vietnamese names lose their letters; set the scanner to HID POS mode",
      );
    }
    this.listener?.state("connected", this.name);
  }

  private onReport(report: Buffer): void {
    const parser = this.parser;
    if (parser === null) return;
    const receivedMono = this.clock.monoMs();
    for (const ev of parser.push(report)) {
      switch (ev.kind) {
        case "code":
          this.listener?.code({ bytes: ev.bytes, receivedMono });
          break;
        case "too-long":
          // Delivered cut, with its whole length, so the gate refuses it whole (bad_format) and journals that.
          this.log.warn({ bytes: ev.bytes, max: this.opts.maxCodeBytes }, "code longer than maxCodeBytes");
          this.listener?.code({ bytes: ev.head, receivedMono, totalBytes: ev.bytes });
          break;
        case "lost-keys":
          this.log.warn({ keys: ev.count }, "keys a US keyboard layout cannot express were lost (keyboard-emulation mode)");
          break;
      }
    }
    this.partial?.();
    this.partial = null;
    if (parser.pending) {
      this.partial = this.clock.setTimer(this.opts.interByteTimeoutMs, () => {
        this.partial = null;
        parser.reset();
        this.log.warn("partial code dropped: the rest did not arrive before the inter-byte timeout");
      });
    }
  }

  private lost(problem: string): void {
    if (problem !== this.lastProblem) {
      this.log.error({ retryMs: this.opts.retryMs }, problem);
      this.listener?.state("lost", problem);
      this.lastProblem = problem;
    }
    this.retry?.();
    this.retry = this.clock.setTimer(this.opts.retryMs, () => {
      this.retry = null;
      this.attempt().catch((e: unknown) => this.lost((e as Error).message));
    });
  }

  private describe(): string {
    return this.opts.path ?? `USB device ${hex(this.opts.vendorId ?? 0)}:${this.opts.productId !== undefined ? hex(this.opts.productId) : "*"}`;
  }
}
