/** One 8-bit grayscale image, row-major, `width * height` bytes, no padding. */
export interface GrayFrame {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A rectangle in frame pixels. */
export interface Roi {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** What happens to a frame before the decoder sees it. */
export interface PipelineOptions {
  /** Only this part of the frame is decoded; absent: the whole frame. */
  readonly roi?: Roi;
  /** Each `downscale x downscale` block is averaged into one pixel (1: unchanged). */
  readonly downscale: number;
}
