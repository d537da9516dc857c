import type { Scanner, ScannerListener } from "./scanner.js";

/**
 * Several scanners on one door (a serial scanner for ID cards and a camera for phones is a common build):
 * their codes go to the one gate, whose de-duplication then also makes the same card seen by both one scan.
 * Each state change names the scanner it comes from.
 */
export class MultiScanner implements Scanner {
  readonly name: string;

  constructor(private readonly scanners: readonly Scanner[]) {
    if (scanners.length === 0) throw new RangeError("MultiScanner needs at least one scanner");
    this.name = scanners.map((s) => s.name).join("+");
  }

  /** Starts each in turn; if one fails to start, those already started are stopped and the error thrown. */
  async start(listener: ScannerListener): Promise<void> {
    const started: Scanner[] = [];
    try {
      for (const s of this.scanners) {
        await s.start({
          code: (c) => listener.code(c),
          state: (state, detail) => listener.state(state, detail.startsWith(s.name) ? detail : `${s.name}: ${detail}`),
        });
        started.push(s);
      }
    } catch (e) {
      await Promise.all(started.map((s) => s.stop()));
      throw e;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.scanners.map((s) => s.stop()));
  }
}
