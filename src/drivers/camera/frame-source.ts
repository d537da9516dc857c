import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import type { Clock } from "../clock.js";
import type { GrayFrame } from "./gray-frame.js";

export interface FrameSourceOptions {
  /** Program and arguments; the program writes frames back to back on stdout. */
  readonly argv: readonly string[];
  readonly width: number;
  readonly height: number;
  /** `gray`: width*height bytes a frame; `yuv420`: width*height*3/2, of which the Y plane is kept. */
  readonly pixelFormat: "gray" | "yuv420";
}

export interface FrameSourceListener {
  /** A whole frame, in a buffer of its own; `arrivedMono` is when its last byte was read. */
  frame(frame: GrayFrame, arrivedMono: number): void;
  /** The program ended or could not start; `detail` says why in a technician's words. No more frames. */
  ended(detail: string): void;
}

/** Keeps the end of a child's stderr: the last lines are what explains a camera that died. */
const STDERR_KEEP = 2048;

/**
 * A camera as a child process writing raw frames to stdout (`rpicam-vid`, `ffmpeg -f v4l2`, or a test's
 * `ffmpeg` reading a file). Splits the byte stream into frames; nothing is decoded here.
 */
export class FrameSource {
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  private current: Uint8Array;
  private filled = 0;
  private readonly frameBytes: number;
  private readonly grayBytes: number;
  private stderrTail = "";
  private endedOnce = false;
  private stopping = false;

  constructor(
    private readonly opts: FrameSourceOptions,
    private readonly clock: Clock,
  ) {
    this.grayBytes = opts.width * opts.height;
    this.frameBytes = opts.pixelFormat === "gray" ? this.grayBytes : this.grayBytes + 2 * Math.ceil(opts.width / 2) * Math.ceil(opts.height / 2);
    this.current = new Uint8Array(this.grayBytes);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(listener: FrameSourceListener): void {
    const [cmd, ...args] = this.opts.argv;
    if (cmd === undefined) throw new RangeError("the camera command is empty");
    this.stopping = false;
    this.endedOnce = false;
    this.filled = 0;
    this.stderrTail = "";
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const end = (detail: string): void => {
      if (this.endedOnce || this.stopping) return;
      this.endedOnce = true;
      this.child = null;
      listener.ended(detail);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      end(e.code === "ENOENT" ? `camera command '${cmd}' not found: is it installed and on PATH?` : `camera command '${cmd}' failed: ${e.message}`);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_KEEP);
    });
    child.stdout.on("data", (chunk: Buffer) => this.push(chunk, listener));
    child.on("close", (code, signal) => {
      const why = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
      const said = this.stderrTail.trim().split("\n").slice(-2).join(" | ");
      end(`camera command '${cmd}' ${why}${said === "" ? "" : `: ${said}`}`);
    });
  }

  /** Ends the child (SIGTERM, SIGKILL after `graceMs`) and resolves once it is gone. No callback after this. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("close", () => resolve());
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("close", () => clearTimeout(t));
    });
  }

  private push(chunk: Buffer, listener: FrameSourceListener): void {
    let at = 0;
    while (at < chunk.length) {
      const want = this.frameBytes - this.filled;
      const take = Math.min(want, chunk.length - at);
      // Bytes past the Y plane (the colour planes of yuv420) are skipped, not copied.
      const grayLeft = this.grayBytes - this.filled;
      if (grayLeft > 0) this.current.set(chunk.subarray(at, at + Math.min(take, grayLeft)), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.frameBytes) {
        const data = this.current;
        this.current = new Uint8Array(this.grayBytes);
        this.filled = 0;
        if (!this.stopping) listener.frame({ data, width: this.opts.width, height: this.opts.height }, this.clock.monoMs());
      }
    }
  }
}
