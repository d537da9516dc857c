import type { GrayFrame, PipelineOptions, Roi } from "./gray-frame.js";

/** Why a region of interest cannot be used on frames of this size, or null when it fits. */
export function roiProblem(roi: Roi, width: number, height: number): string | null {
  if (roi.width < 1 || roi.height < 1) return `the region of interest ${roi.width}x${roi.height} is empty`;
  if (roi.x + roi.width > width || roi.y + roi.height > height) {
    return `the region of interest ${roi.width}x${roi.height} at ${roi.x},${roi.y} does not fit in a ${width}x${height} frame`;
  }
  return null;
}

/**
 * Crops a frame to its region of interest, then averages `downscale x downscale` blocks. Pure; the input is
 * never changed. A camera placed far from the card wants the ROI; a high-resolution camera close to the card
 * wants downscaling (zxing's cost grows with pixels, and modules stay several pixels wide).
 */
export function prepareFrame(frame: GrayFrame, opts: PipelineOptions): GrayFrame {
  let out = frame;
  if (opts.roi !== undefined) out = crop(out, opts.roi);
  if (opts.downscale > 1) out = downscale(out, opts.downscale);
  return out;
}

export function crop(frame: GrayFrame, roi: Roi): GrayFrame {
  const problem = roiProblem(roi, frame.width, frame.height);
  if (problem !== null) throw new RangeError(problem);
  if (roi.x === 0 && roi.y === 0 && roi.width === frame.width && roi.height === frame.height) return frame;
  const data = new Uint8Array(roi.width * roi.height);
  for (let row = 0; row < roi.height; row++) {
    const from = (roi.y + row) * frame.width + roi.x;
    data.set(frame.data.subarray(from, from + roi.width), row * roi.width);
  }
  return { data, width: roi.width, height: roi.height };
}

/** Box-filter downscale by an integer factor; a partial block at the right or bottom edge is dropped. */
export function downscale(frame: GrayFrame, factor: number): GrayFrame {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`downscale factor must be a whole number >= 1, not ${factor}`);
  if (factor === 1) return frame;
  const width = Math.floor(frame.width / factor);
  const height = Math.floor(frame.height / factor);
  if (width < 1 || height < 1) throw new RangeError(`a ${frame.width}x${frame.height} frame is too small to downscale by ${factor}`);
  const data = new Uint8Array(width * height);
  const area = factor * factor;
  const half = area >> 1;
  const src = frame.data;
  const sums = new Uint32Array(width);
  for (let y = 0; y < height; y++) {
    sums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      let i = (y * factor + dy) * frame.width;
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let dx = 0; dx < factor; dx++) s += src[i++] as number;
        sums[x] = (sums[x] as number) + s;
      }
    }
    const rowOut = y * width;
    for (let x = 0; x < width; x++) data[rowOut + x] = ((sums[x] as number) + half) / area;
  }
  return { data, width, height };
}
