import type { Logger } from "pino";
import type { Readable } from "node:stream";
import type { Clock } from "../clock.js";
import { LineFramer, type FramerOptions } from "./line-framer.js";
import type { Scanner, ScannerListener } from "./scanner.js";

/** Codes typed or pasted on standard input, one a line: the simulator's scanner, and a keyboard-wedge stand-in. */
export class StdinScanner implements Scanner {
  readonly name = "stdin";
  private readonly onData = (chunk: Buffer): void => this.framer?.push(chunk);
  private readonly onEnd = (): void => this.listener?.state("closed", "standard input ended");
  private framer: LineFramer | null = null;
  private listener: ScannerListener | null = null;

  constructor(
    private readonly opts: FramerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly input: Readable = process.stdin,
  ) {}

  start(listener: ScannerListener): Promise<void> {
    if (this.listener !== null) {
      this.listener = listener;
      return Promise.resolve();
    }
    this.listener = listener;
    this.framer = new LineFramer(this.opts, this.clock, {
      code: (c) => this.listener?.code({ bytes: c.bytes, receivedMono: c.receivedMono, totalBytes: c.totalBytes }),
      dropped: (n) => this.log.warn({ bytes: n }, "partial line dropped: no newline before the inter-byte timeout"),
    });
    this.input.on("data", this.onData);
    this.input.on("end", this.onEnd);
    listener.state("connected", this.name);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.input.off("data", this.onData);
    this.input.off("end", this.onEnd);
    this.framer?.reset();
    this.framer = null;
    this.listener = null;
    if (this.input === process.stdin) process.stdin.pause();
    return Promise.resolve();
  }
}
