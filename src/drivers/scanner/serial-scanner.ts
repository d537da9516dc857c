import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";
import { LineFramer, type FramerOptions } from "./line-framer.js";
import type { Scanner, ScannerListener } from "./scanner.js";

export interface SerialScannerOptions extends FramerOptions {
  readonly path: string;
  readonly baudRate: number;
  /** Wait between attempts to open a missing or locked port. */
  readonly retryMs: number;
}

/** What the scanner uses of a node-serialport stream: `SerialPort` in production, `SerialPortMock` in tests. */
export interface SerialPortLike {
  readonly isOpen: boolean;
  open(cb: (e: Error | null) => void): void;
  close(cb?: (e: Error | null) => void): void;
  on(event: "data", fn: (chunk: Buffer) => void): unknown;
  on(event: "error", fn: (e: Error) => void): unknown;
  on(event: "close", fn: () => void): unknown;
}

/** Builds an unopened port; the default loads node-serialport's native binding on first use. */
export type SerialPortFactory = (o: { path: string; baudRate: number }) => Promise<SerialPortLike>;

const nativePort: SerialPortFactory = async ({ path, baudRate }) => {
  // Loaded on use: the binding pulls in udev helpers that a machine without a serial scanner may lack.
  const { SerialPort } = await import("serialport");
  return new SerialPort({ path, baudRate, autoOpen: false, lock: true });
};

/** Turns node-serialport's open errors into what a technician can act on. */
export function explainOpenError(path: string, e: Error): string {
  const m = e.message;
  if (/lock/i.test(m)) return `${path} is in use by another process (Cannot lock port): stop the other qrgate or program using it`;
  if (/ENOENT|No such file/i.test(m)) return `${path} does not exist: is the scanner plugged in, and is the path right?`;
  if (/EACCES|Permission denied/i.test(m)) return `no permission to open ${path}: add the qrgate user to the dialout group`;
  return `cannot open ${path}: ${m}`;
}

/**
 * A QR scanner on a serial port (USB CDC-ACM or a UART). Bytes are read raw so UTF-8 names survive.
 * A missing, locked or unplugged port is retried every `retryMs`.
 */
export class SerialScanner implements Scanner {
  readonly name: string;
  private port: SerialPortLike | null = null;
  private started = false;
  private retry: CancelTimer | null = null;
  private stopped = false;
  private lastProblem = "";
  private readonly framer: LineFramer;
  private listener: ScannerListener | null = null;

  constructor(
    private readonly opts: SerialScannerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly makePort: SerialPortFactory = nativePort,
  ) {
    this.name = `serial:${opts.path}`;
    this.framer = new LineFramer(opts, clock, {
      code: (c) => this.listener?.code({ bytes: c.bytes, receivedMono: c.receivedMono, totalBytes: c.totalBytes }),
      dropped: (n) => this.log.warn({ bytes: n }, "partial code dropped: no suffix before the inter-byte timeout"),
    });
  }

  async start(listener: ScannerListener): Promise<void> {
    this.listener = listener;
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    await this.open();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.stopped = true;
    this.retry?.();
    this.retry = null;
    this.framer.reset();
    const port = this.port;
    this.port = null;
    if (port?.isOpen === true) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const port = await this.makePort({ path: this.opts.path, baudRate: this.opts.baudRate });
    const error = await new Promise<Error | null>((resolve) => port.open((e) => resolve(e ?? null)));
    if (this.stopped) {
      if (error === null) port.close();
      return;
    }
    if (error !== null) {
      const problem = explainOpenError(this.opts.path, error);
      // Log a persisting problem once, not every retry.
      if (problem !== this.lastProblem) {
        this.log.error({ path: this.opts.path, retryMs: this.opts.retryMs }, problem);
        this.listener?.state("lost", problem);
        this.lastProblem = problem;
      }
      this.scheduleRetry();
      return;
    }
    this.lastProblem = "";
    this.port = port;
    this.framer.reset();
    port.on("data", (chunk: Buffer) => this.framer.push(chunk));
    port.on("error", (e: Error) => this.log.warn({ err: e.message }, "serial port error"));
    port.on("close", () => {
      if (this.stopped || this.port !== port) return;
      this.port = null;
      this.framer.reset();
      this.log.error({ path: this.opts.path }, "scanner disconnected");
      this.listener?.state("lost", `${this.opts.path} closed (unplugged?)`);
      this.scheduleRetry();
    });
    this.log.info({ path: this.opts.path, baudRate: this.opts.baudRate }, "scanner connected");
    this.listener?.state("connected", this.name);
  }

  private scheduleRetry(): void {
    this.retry?.();
    this.retry = this.clock.setTimer(this.opts.retryMs, () => {
      this.retry = null;
      this.open().catch((e: unknown) => {
        this.log.error({ err: (e as Error).message }, "serial scanner failed to open");
        this.scheduleRetry();
      });
    });
  }
}
