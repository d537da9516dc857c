import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import type { GrayFrame } from "./gray-frame.js";

/** An image file that cannot be turned into grayscale pixels, with a reason a technician can act on. */
export class ImageReadError extends Error {
  readonly code = "E_IMAGE_READ";
  constructor(message: string) {
    super(message);
    this.name = "ImageReadError";
  }
}

/** Parses a binary PGM (P5, 8-bit) as ffmpeg writes it. */
export function parsePgm(buf: Buffer): GrayFrame {
  // Header: "P5" whitespace width whitespace height whitespace maxval, one whitespace byte, then the pixels.
  const fields: string[] = [];
  let i = 0;
  while (fields.length < 4 && i < buf.length && i < 256) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i] as number))) i++;
    if (buf[i] === 0x23) {
      while (i < buf.length && buf[i] !== 0x0a) i++;
      continue;
    }
    const start = i;
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i] as number))) i++;
    fields.push(buf.subarray(start, i).toString("latin1"));
  }
  const [magic, w, h, max] = fields;
  const width = Number(w);
  const height = Number(h);
  if (magic !== "P5" || !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || max !== "255") {
    throw new ImageReadError("ffmpeg did not return an 8-bit grayscale image");
  }
  const data = buf.subarray(i + 1, i + 1 + width * height);
  if (data.length !== width * height) throw new ImageReadError("ffmpeg returned a truncated image");
  // A buffer of its own, so it can be transferred to the decoder's worker.
  return { data: new Uint8Array(data), width, height };
}

/**
 * Reads an image file (PNG, JPEG, WebP, anything ffmpeg decodes; the first frame of a video) as 8-bit
 * grayscale, the same conversion the USB camera command uses.
 */
export async function readGrayImage(path: string, ffmpeg = "ffmpeg"): Promise<GrayFrame> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ImageReadError("not a file");
  } catch (e) {
    if (e instanceof ImageReadError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageReadError(code === "ENOENT" ? "no such file" : `cannot read it (${code ?? (e as Error).message})`);
  }
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-frames:v", "1", "-pix_fmt", "gray", "-c:v", "pgm", "-f", "image2pipe", "-"];
  return new Promise<GrayFrame>((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      err = (err + c.toString("utf8")).slice(-1000);
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(new ImageReadError(e.code === "ENOENT" ? `${ffmpeg} is not installed (Debian package ffmpeg); it reads the images` : `${ffmpeg} failed: ${e.message}`));
    });
    child.on("close", (code) => {
      if (code !== 0) {
        const said = err.trim().split("\n").pop() ?? "";
        reject(new ImageReadError(`not an image ffmpeg can read${said === "" ? "" : `: ${said}`}`));
        return;
      }
      try {
        resolve(parsePgm(Buffer.concat(out)));
      } catch (e) {
        reject(e instanceof Error ? e : new ImageReadError(String(e)));
      }
    });
  });
}
