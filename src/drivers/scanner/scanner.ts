/** One code as the scanner delivered it: raw bytes, suffix removed, stamped on arrival. */
export interface ScannedCode {
  readonly bytes: Buffer;
  /** Monotonic ms when the code's last byte arrived: the start of the decision budget. */
  readonly receivedMono: number;
  /**
   * The whole length of the line when the scanner kept only its first `bytes.length` bytes (`scanner.maxCodeBytes`);
   * absent or equal to `bytes.length` when `bytes` is the whole code. A cut code is refused whole, never decided.
   */
  readonly totalBytes?: number;
}

export type ScannerState = "connected" | "lost" | "closed";

export interface ScannerListener {
  code(code: ScannedCode): void;
  /** The scanner came, went (unplugged, port locked) or ended for good (stdin closed). */
  state(state: ScannerState, detail: string): void;
}

/**
 * A source of codes. `start` resolves once the scanner is listening or retrying in the background; a scanner
 * that is missing is retried, never a crash. `stop` releases the device.
 */
export interface Scanner {
  /** For logs and health: `serial:/dev/ttyACM0`, `stdin`, … */
  readonly name: string;
  start(listener: ScannerListener): Promise<void>;
  stop(): Promise<void>;
}
