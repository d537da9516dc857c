import type { CancelTimer, Clock } from "../clock.js";

/** What ends a code: `auto` takes any of CR, LF or CRLF. */
export type Suffix = "auto" | "CR" | "LF" | "CRLF";

export interface FramerOptions {
  readonly suffix: Suffix;
  /** A partial code with no byte for this long is dropped, so it is not glued to the next code. */
  readonly interByteTimeoutMs: number;
  /**
   * Bytes kept of one code; the rest of an over-long line is counted but not kept, and `totalBytes` tells the
   * reader that the code was cut (the gate then refuses it whole).
   */
  readonly maxCodeBytes: number;
}

export interface FramedCode {
  readonly bytes: Buffer;
  /** The whole length the line had, which exceeds `bytes.length` when it was cut at `maxCodeBytes`. */
  readonly totalBytes: number;
  readonly receivedMono: number;
}

export interface FramerSink {
  code(c: FramedCode): void;
  /** A partial code was dropped after the inter-byte timeout. */
  dropped(bytes: number): void;
}

const CR = 0x0d;
const LF = 0x0a;

/** Cuts a byte stream from a scanner into codes. Bytes are kept raw: decoding is the core's business. */
export class LineFramer {
  private chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  /** In CRLF mode, a CR seen as the last byte of a chunk, waiting for its LF. */
  private pendingCr = false;
  private cancelTimer: CancelTimer | null = null;

  constructor(
    private readonly opts: FramerOptions,
    private readonly clock: Clock,
    private readonly sink: FramerSink,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      const end = this.endsAt(b, chunk, i);
      if (end === 0) continue;
      this.append(chunk.subarray(start, i));
      this.emit();
      i += end - 1;
      start = i + 1;
    }
    this.append(chunk.subarray(start));
    this.armTimer();
  }

  /** Drops any partial code and its timer. */
  reset(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.chunks = [];
    this.kept = 0;
    this.total = 0;
    this.pendingCr = false;
  }

  /** How many bytes at `i` end a code (0: not an end). */
  private endsAt(b: number | undefined, chunk: Buffer, i: number): number {
    switch (this.opts.suffix) {
      case "LF":
        return b === LF ? 1 : 0;
      case "CR":
        return b === CR ? 1 : 0;
      case "CRLF":
        if (this.pendingCr) {
          this.pendingCr = false;
          if (b === LF) {
            this.dropTrailingCr();
            return 1;
          }
        }
        if (b === CR) {
          if (i + 1 < chunk.length) return chunk[i + 1] === LF ? 2 : 0;
          this.pendingCr = true; // decided by the next chunk; the CR is kept until then
        }
        return 0;
      case "auto":
        // The LF of a CRLF then ends an empty code, which emit() ignores.
        return b === CR || b === LF ? 1 : 0;
    }
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    this.total += part.length;
    const room = this.opts.maxCodeBytes - this.kept;
    if (room <= 0) return;
    const kept = part.length <= room ? part : part.subarray(0, room);
    // Copy: the serial driver may reuse its buffer.
    this.chunks.push(Buffer.from(kept));
    this.kept += kept.length;
  }

  private dropTrailingCr(): void {
    // The CR that began a CRLF split across chunks was appended as data; take it back.
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last[last.length - 1] === CR) {
      this.chunks[this.chunks.length - 1] = last.subarray(0, last.length - 1);
      this.kept--;
      this.total--;
    }
  }

  private emit(): void {
    const total = this.total;
    const bytes = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.kept);
    this.chunks = [];
    this.kept = 0;
    this.total = 0;
    this.cancelTimer?.();
    this.cancelTimer = null;
    // An empty line (a bare suffix, the LF of a CRLF in auto mode) is no code.
    if (total === 0) return;
    this.sink.code({ bytes, totalBytes: total, receivedMono: this.clock.monoMs() });
  }

  private armTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.total === 0) return;
    this.cancelTimer = this.clock.setTimer(this.opts.interByteTimeoutMs, () => {
      this.cancelTimer = null;
      const dropped = this.total;
      this.chunks = [];
      this.kept = 0;
      this.total = 0;
      this.pendingCr = false;
      this.sink.dropped(dropped);
    });
  }
}
