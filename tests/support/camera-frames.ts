/**
 * Camera-like test frames made with real tools: qrencode writes the QR (byte mode, UTF-8, no ECI: how ID cards
 * and phone apps write theirs), ffmpeg filters turn it into what a camera sees, and ffmpeg plays them back as
 * the camera command.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CCCD_TEXT = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021";
export const W = 640;
export const H = 480;

export interface Frames {
  readonly dir: string;
  /** The bare QR as qrencode draws it. */
  readonly qr: string;
  /** 640x480 camera frames (PNG). */
  readonly sharp: string;
  readonly empty: string;
  readonly blurred: string;
  readonly rotated: string;
  readonly lowContrast: string;
}

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

/** A 640x480 grey scene with the code in it, after `extra` filters. */
function scene(qr: string, out: string, extra: string): void {
  const place = `[1]scale=220:220:flags=neighbor${extra === "" ? "" : "," + extra}[q];[0][q]overlay=x=(W-w)/2:y=(H-h)/2,format=gray`;
  ffmpeg(["-f", "lavfi", "-i", `color=c=0x8a8a8a:s=${W}x${H}`, "-i", qr, "-filter_complex", place, "-frames:v", "1", out]);
}

export function makeFrames(text = CCCD_TEXT): Frames {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-cam-"));
  const qr = join(dir, "qr.png");
  execFileSync("qrencode", ["-8", "-l", "M", "-s", "4", "-m", "4", "-o", qr, text]);
  const f = (name: string) => join(dir, name);
  scene(qr, f("sharp.png"), "");
  scene(qr, f("blurred.png"), "gblur=sigma=1.2");
  scene(qr, f("rotated.png"), "rotate=a=0.4:c=0x8a8a8a:ow=hypot(iw\\,ih):oh=ow");
  scene(qr, f("low-contrast.png"), "format=gray,lut=y=val*0.18+100");
  ffmpeg(["-f", "lavfi", "-i", `color=c=0x8a8a8a:s=${W}x${H}`, "-vf", "format=gray", "-frames:v", "1", f("empty.png")]);
  return { dir, qr, sharp: f("sharp.png"), empty: f("empty.png"), blurred: f("blurred.png"), rotated: f("rotated.png"), lowContrast: f("low-contrast.png") };
}

const RAW_OUT = ["-pix_fmt", "gray", "-f", "rawvideo", "-"];

/** ffmpeg as the camera: `frames` copies of a still image, as fast as they can be written. */
export function stillCamera(image: string, frames: number): string[] {
  return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-loop", "1", "-i", image, "-frames:v", String(frames), "-vf", `scale=${W}:${H}`, ...RAW_OUT];
}

/** ffmpeg as the camera at real frame rate (15 fps): a still image held in front of the lens for `seconds`. */
export function heldCamera(image: string, seconds: number): string[] {
  return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-loop", "1", "-framerate", "15", "-i", image, "-t", String(seconds), "-vf", `scale=${W}:${H}`, ...RAW_OUT];
}

/** A card moving left to right through the frame over `seconds`, at 15 fps in real time. */
export function movingCardCamera(qr: string, seconds: number): string[] {
  const speed = (W + 260) / seconds;
  return [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", `color=c=0x8a8a8a:s=${W}x${H}:r=15:d=${seconds}`, "-i", qr,
    "-filter_complex", `[1]scale=200:200:flags=neighbor[q];[0][q]overlay=x='-230+t*${speed.toFixed(1)}':y=140:eval=frame`,
    ...RAW_OUT,
  ];
}

/** Shown for `showS`, taken away for `gapS`, shown again: two presentations of one card at 15 fps in real time. */
export function twiceShownCamera(qr: string, showS: number, gapS: number): string[] {
  const total = 2 * showS + gapS;
  return [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", `color=c=0x8a8a8a:s=${W}x${H}:r=15:d=${total}`, "-i", qr,
    "-filter_complex", `[1]scale=220:220:flags=neighbor[q];[0][q]overlay=x=(W-w)/2:y=(H-h)/2:enable='lt(t,${showS})+gte(t,${showS + gapS})'`,
    ...RAW_OUT,
  ];
}
