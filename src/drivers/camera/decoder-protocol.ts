import type { DecoderOptions } from "./qr-decoder.js";
import type { PipelineOptions } from "./gray-frame.js";

/** Sent once when the worker starts (its `workerData`). */
export interface DecoderWorkerData {
  readonly decoder: DecoderOptions;
  readonly pipeline: PipelineOptions;
}

/** Main thread -> worker: one frame, its buffer transferred (not copied). */
export interface FrameRequest {
  readonly id: number;
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Worker -> main thread. */
export type DecoderReply =
  | { readonly type: "ready"; readonly loadMs: number }
  | { readonly type: "failed"; readonly message: string }
  | {
      readonly type: "result";
      readonly id: number;
      /** Time spent in the worker on this frame: region of interest, downscale, decode. */
      readonly ms: number;
      readonly code: { readonly bytes: Uint8Array; readonly text: string; readonly format: string } | null;
      /** Set when the frame could not be decoded at all (bad size, region outside the frame). */
      readonly error?: string;
    };
