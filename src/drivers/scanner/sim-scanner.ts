import type { Clock } from "../clock.js";
import type { Scanner, ScannerListener } from "./scanner.js";

/** A scanner fed by the program itself (benchmarks, the kiosk's test button): `emit` delivers one code now. */
export class SimScanner implements Scanner {
  readonly name = "sim";
  private listener: ScannerListener | null = null;

  constructor(private readonly clock: Clock) {}

  start(listener: ScannerListener): Promise<void> {
    this.listener = listener;
    listener.state("connected", this.name);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.listener = null;
    return Promise.resolve();
  }

  /** Delivers a code as if scanned now; throws when the scanner is not started (a misuse, not bad input). */
  emit(code: string | Uint8Array): void {
    if (this.listener === null) throw new Error("SimScanner.emit before start");
    const bytes = typeof code === "string" ? Buffer.from(code, "utf8") : Buffer.from(code);
    this.listener.code({ bytes, receivedMono: this.clock.monoMs() });
  }
}
