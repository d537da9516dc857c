import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { DecoderReply, DecoderWorkerData, FrameRequest } from "./decoder-protocol.js";
import type { GrayFrame, PipelineOptions } from "./gray-frame.js";
import { DecoderLoadError, type DecodedQr, type DecoderOptions } from "./qr-decoder.js";

export interface FrameDecoderOptions {
  readonly decoder: DecoderOptions;
  readonly pipeline: PipelineOptions;
  /** The worker script; by default the compiled decoder-worker.js beside this file. */
  readonly workerFile?: string;
}

/** One frame's outcome. */
export interface DecodeOutcome {
  /** What the frame was submitted with (for a camera: monotonic ms when its last byte arrived). */
  readonly tag: number;
  /** Time in the worker: region of interest, downscale, decode. */
  readonly ms: number;
  readonly code: DecodedQr | null;
  readonly error?: string;
}

export interface FrameDecoderStats {
  submitted: number;
  decoded: number;
  /** Frames replaced by a newer one while the worker was busy. */
  dropped: number;
}

/** The worker died or failed: the decoder is unusable until started again. */
export class DecoderWorkerError extends Error {
  readonly code = "E_DECODER_WORKER";
  constructor(message: string) {
    super(message);
    this.name = "DecoderWorkerError";
  }
}

/** The compiled worker script. Under vitest this file runs from src/*.ts, so it falls back to dist/ (built by pretest). */
export function defaultWorkerFile(): string {
  const beside = fileURLToPath(new URL("./decoder-worker.js", import.meta.url));
  if (existsSync(beside)) return beside;
  const built = fileURLToPath(new URL("../../../dist/src/drivers/camera/decoder-worker.js", import.meta.url));
  if (existsSync(built)) return built;
  throw new DecoderLoadError(`the decoder worker script is missing (${beside}); run 'npm run build'`);
}

/**
 * Runs the frame pipeline and zxing-wasm in a worker thread. At most one frame is in the worker; while it is
 * busy, a new frame replaces the one waiting (the newest frame wins: a gate wants what is in front of the lens
 * now, not a backlog).
 */
export class FrameDecoder {
  readonly stats: FrameDecoderStats = { submitted: 0, decoded: 0, dropped: 0 };
  private worker: Worker | null = null;
  private busy = false;
  private waiting: { frame: GrayFrame; tag: number } | null = null;
  private nextId = 1;
  private inFlight: { id: number; tag: number; resolve?: (o: DecodeOutcome) => void } | null = null;
  private resultListener: (o: DecodeOutcome) => void = () => {};
  private failureListener: (e: DecoderWorkerError) => void = () => {};
  private stopping = false;

  constructor(private readonly opts: FrameDecoderOptions) {}

  onResult(fn: (o: DecodeOutcome) => void): void {
    this.resultListener = fn;
  }

  /** Called once if the worker dies after start; the decoder must then be started again. */
  onFailure(fn: (e: DecoderWorkerError) => void): void {
    this.failureListener = fn;
  }

  /** Starts the worker and resolves once zxing-wasm is instantiated, so the first frame is not delayed by it. */
  async start(): Promise<{ loadMs: number }> {
    if (this.worker !== null) throw new Error("FrameDecoder already started");
    this.stopping = false;
    const workerData: DecoderWorkerData = { decoder: this.opts.decoder, pipeline: this.opts.pipeline };
    const worker = new Worker(this.opts.workerFile ?? defaultWorkerFile(), { workerData });
    this.worker = worker;
    const ready = await new Promise<{ loadMs: number }>((resolve, reject) => {
      const onMessage = (m: DecoderReply): void => {
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (m.type === "ready") resolve({ loadMs: m.loadMs });
        else if (m.type === "failed") reject(new DecoderLoadError(m.message));
        else reject(new DecoderLoadError("the decoder worker answered before it was ready"));
      };
      const onError = (e: Error): void => reject(new DecoderLoadError(`the decoder worker failed to start: ${e.message}`));
      const onExit = (code: number): void => reject(new DecoderLoadError(`the decoder worker exited (${code}) before it was ready`));
      worker.once("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
    }).catch(async (e: unknown) => {
      this.worker = null;
      await worker.terminate();
      throw e;
    });
    worker.on("message", (m: DecoderReply) => this.onReply(m));
    worker.on("error", (e: Error) => this.fail(`decoder worker crashed: ${e.message}`));
    worker.on("exit", (code: number) => this.fail(`decoder worker exited with code ${code}`));
    return ready;
  }

  /** Queues a frame, replacing any frame still waiting. The buffer is handed to the worker: do not reuse it. */
  submit(frame: GrayFrame, tag: number): void {
    if (this.worker === null) return;
    this.stats.submitted++;
    if (this.busy) {
      if (this.waiting !== null) this.stats.dropped++;
      this.waiting = { frame, tag };
      return;
    }
    this.post(frame, tag);
  }

  /** Decodes one frame and waits for it (the `decode` command). Frames are never dropped here. */
  decode(frame: GrayFrame): Promise<DecodeOutcome> {
    if (this.worker === null) return Promise.reject(new DecoderWorkerError("the decoder is not started"));
    if (this.busy) return Promise.reject(new DecoderWorkerError("decode() called while a frame is in the worker"));
    this.stats.submitted++;
    return new Promise((resolve) => this.post(frame, 0, resolve));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.waiting = null;
    this.busy = false;
    this.inFlight = null;
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
  }

  private post(frame: GrayFrame, tag: number, resolve?: (o: DecodeOutcome) => void): void {
    const w = this.worker;
    if (w === null) return;
    const id = this.nextId++;
    this.busy = true;
    this.inFlight = resolve === undefined ? { id, tag } : { id, tag, resolve };
    const req: FrameRequest = { id, data: frame.data, width: frame.width, height: frame.height };
    // Transfer when the frame owns its whole buffer; a view into a larger buffer is copied by postMessage.
    const owns = frame.data.byteOffset === 0 && frame.data.byteLength === frame.data.buffer.byteLength && frame.data.buffer instanceof ArrayBuffer;
    w.postMessage(req, owns ? [frame.data.buffer] : []);
  }

  private onReply(m: DecoderReply): void {
    if (m.type !== "result") return;
    const flight = this.inFlight;
    if (flight === null || flight.id !== m.id) return;
    this.inFlight = null;
    this.busy = false;
    this.stats.decoded++;
    const code = m.code === null ? null : { bytes: Buffer.from(m.code.bytes), text: m.code.text, format: m.code.format };
    const outcome: DecodeOutcome = m.error === undefined ? { tag: flight.tag, ms: m.ms, code } : { tag: flight.tag, ms: m.ms, code, error: m.error };
    // The next frame goes in before anyone looks at this result: the worker never idles on our account.
    const next = this.waiting;
    this.waiting = null;
    if (next !== null) this.post(next.frame, next.tag);
    if (flight.resolve !== undefined) flight.resolve(outcome);
    else this.resultListener(outcome);
  }

  private fail(message: string): void {
    if (this.stopping || this.worker === null) return;
    const w = this.worker;
    const flight = this.inFlight;
    this.worker = null;
    this.busy = false;
    this.waiting = null;
    this.inFlight = null;
    void w.terminate();
    flight?.resolve?.({ tag: flight.tag, ms: 0, code: null, error: message });
    this.failureListener(new DecoderWorkerError(message));
  }
}
