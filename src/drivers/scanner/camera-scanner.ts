import type { Logger } from "pino";
import type { CameraSettings } from "../../config/config.js";
import { cameraCommand, type CameraCommand } from "../camera/camera-command.js";
import { FrameDecoder, type DecodeOutcome, type FrameDecoderStats } from "../camera/frame-decoder.js";
import { FrameSource } from "../camera/frame-source.js";
import type { CancelTimer, Clock } from "../clock.js";
import type { Scanner, ScannerListener } from "./scanner.js";

export interface CameraScannerOptions {
  readonly camera: CameraSettings;
  /** The same code again within this (sliding: each sighting extends it) is one scan. */
  readonly dedupMs: number;
  /** The frame command; by default derived from `camera` when the scanner starts. */
  readonly command?: CameraCommand;
  /** The decoder's worker script (tests); by default the compiled one beside the decoder. */
  readonly workerFile?: string;
  /** `start` waits this long at most for the first frame, so a camera that works is `connected` when it returns. */
  readonly startWaitMs?: number;
}

export interface CameraScannerStats extends FrameDecoderStats {
  /** Whole frames read from the camera command. */
  frames: number;
  /** Codes handed to the gate (after de-duplication). */
  codes: number;
  /** Times the camera command was (re)started. */
  launches: number;
}

/**
 * A camera as a scanner: a child process streams raw frames, a worker thread decodes them with zxing-wasm, and
 * each new code goes to the gate stamped with the arrival time of the frame it was found in. The camera
 * command dying (unplugged webcam, camera busy, program missing) is reported `lost` and restarted with
 * exponential backoff; a decoder that cannot load (a broken install) makes `start` fail.
 */
export class CameraScanner implements Scanner {
  readonly name: string;
  private listener: ScannerListener | null = null;
  private source: FrameSource | null = null;
  private decoder: FrameDecoder | null = null;
  private command: CameraCommand | null = null;
  private restartTimer: CancelTimer | null = null;
  private backoffMs: number;
  private stopped = true;
  private connected = false;
  private lastProblem = "";
  private last: { bytes: Buffer; seenMono: number } | null = null;
  private readonly counts = { frames: 0, codes: 0, launches: 0 };
  private settled: (() => void) | null = null;

  constructor(
    private readonly opts: CameraScannerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const c = opts.camera;
    this.name = c.source === "usb" ? `camera:${c.device}` : c.source === "pi" ? "camera:pi" : `camera:${c.command?.[0] ?? "command"}`;
    this.backoffMs = c.restartMinMs;
  }

  stats(): CameraScannerStats {
    const d = this.decoder?.stats ?? { submitted: 0, decoded: 0, dropped: 0 };
    return { ...d, ...this.counts };
  }

  async start(listener: ScannerListener): Promise<void> {
    if (!this.stopped) return;
    this.listener = listener;
    this.stopped = false;
    this.command = this.opts.command ?? cameraCommand(this.opts.camera);
    // The decoder (and its wasm) is ready before the camera sends its first frame.
    try {
      await this.startDecoder();
    } catch (e) {
      this.stopped = true;
      throw e;
    }
    if (this.stopped) return;
    // Resolves at the first frame (connected) or the first failure (lost), whichever comes first, or after
    // startWaitMs. A real timer, not the injected clock: it bounds start-up, it times nothing the gate decides.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.startWaitMs ?? 3000);
      t.unref();
      this.settled = () => {
        clearTimeout(t);
        this.settled = null;
        resolve();
      };
      this.launch();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.connected = false;
    this.settled?.();
    this.restartTimer?.();
    this.restartTimer = null;
    const source = this.source;
    const decoder = this.decoder;
    this.source = null;
    this.decoder = null;
    this.last = null;
    await Promise.all([source?.stop(), decoder?.stop()]);
  }

  private async startDecoder(): Promise<void> {
    const c = this.opts.camera;
    const decoder = new FrameDecoder({
      decoder: { tryHarder: c.tryHarder, tryInvert: c.tryInvert },
      pipeline: { downscale: c.downscale, ...(c.roi !== undefined ? { roi: c.roi } : {}) },
      ...(this.opts.workerFile !== undefined ? { workerFile: this.opts.workerFile } : {}),
    });
    decoder.onResult((o) => this.onDecoded(o));
    decoder.onFailure((e) => {
      if (this.decoder !== decoder) return;
      this.decoder = null;
      const source = this.source;
      this.source = null;
      void source?.stop();
      this.lost(e.message);
    });
    const { loadMs } = await decoder.start();
    if (this.stopped) {
      await decoder.stop();
      return;
    }
    this.decoder = decoder;
    this.log.info({ loadMs: Math.round(loadMs) }, "QR decoder ready");
  }

  private launch(): void {
    const command = this.command;
    if (this.stopped || command === null) return;
    const c = this.opts.camera;
    const source = new FrameSource({ argv: command.argv, width: c.width, height: c.height, pixelFormat: command.pixelFormat }, this.clock);
    this.source = source;
    this.counts.launches++;
    source.start({
      frame: (frame, arrivedMono) => {
        if (this.source !== source) return;
        this.counts.frames++;
        if (!this.connected) {
          this.connected = true;
          this.lastProblem = "";
          this.backoffMs = c.restartMinMs;
          this.log.info({ camera: this.name, width: c.width, height: c.height }, "camera streaming");
          this.listener?.state("connected", this.name);
          this.settled?.();
        }
        this.decoder?.submit(frame, arrivedMono);
      },
      ended: (detail) => {
        if (this.source !== source) return;
        this.source = null;
        this.lost(detail);
      },
    });
  }

  private lost(detail: string): void {
    if (this.stopped) return;
    const wasConnected = this.connected;
    this.connected = false;
    // A camera that stays broken is reported once, not on every retry.
    if (wasConnected || detail !== this.lastProblem) {
      this.log.error({ camera: this.name, retryMs: this.backoffMs }, detail);
      this.listener?.state("lost", detail);
      this.lastProblem = detail;
    }
    this.settled?.();
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.camera.restartMaxMs);
    this.restartTimer?.();
    this.restartTimer = this.clock.setTimer(wait, () => {
      this.restartTimer = null;
      this.restart().catch((e: unknown) => this.lost(`camera restart failed: ${(e as Error).message}`));
    });
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    if (this.decoder === null) await this.startDecoder();
    this.launch();
  }

  private onDecoded(o: DecodeOutcome): void {
    if (this.stopped || this.listener === null) return;
    if (o.error !== undefined) {
      this.log.warn({ err: o.error }, "frame not decodable");
      return;
    }
    if (o.code === null) return;
    const seen = o.tag;
    const last = this.last;
    const repeat = last !== null && last.bytes.equals(o.code.bytes) && seen - last.seenMono < this.opts.dedupMs;
    this.last = { bytes: o.code.bytes, seenMono: seen };
    if (repeat) return;
    this.counts.codes++;
    this.listener.code({ bytes: o.code.bytes, receivedMono: seen });
  }
}
