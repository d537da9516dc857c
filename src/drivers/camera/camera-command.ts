import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { CameraSettings } from "../../config/config.js";

export interface CameraCommand {
  readonly argv: readonly string[];
  readonly pixelFormat: "gray" | "yuv420";
}

/** Whether an executable of this name is on PATH. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * The command line that streams the configured camera's frames to stdout.
 * - usb: ffmpeg reads V4L2 and converts to 8-bit gray itself.
 * - pi: rpicam-vid (named libcamera-vid before Raspberry Pi OS Bookworm) writes planar YUV 4:2:0, whose Y plane
 *   is the grayscale image; the colour planes are skipped on read.
 * - command: whatever the config says, in the pixel format it names.
 */
export function cameraCommand(c: CameraSettings, has: (name: string) => boolean = onPath): CameraCommand {
  const size = { w: String(c.width), h: String(c.height), fps: String(c.fps) };
  switch (c.source) {
    case "usb":
      return {
        argv: [
          "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
          "-f", "v4l2", "-framerate", size.fps, "-video_size", `${size.w}x${size.h}`, "-i", c.device,
          "-vf", `scale=${size.w}:${size.h}`, "-pix_fmt", "gray", "-f", "rawvideo", "-",
        ],
        pixelFormat: "gray",
      };
    case "pi": {
      const bin = has("rpicam-vid") || !has("libcamera-vid") ? "rpicam-vid" : "libcamera-vid";
      return {
        argv: [bin, "-t", "0", "-n", "--codec", "yuv420", "--width", size.w, "--height", size.h, "--framerate", size.fps, "--flush", "-o", "-"],
        pixelFormat: "yuv420",
      };
    }
    case "command":
      return { argv: c.command ?? [], pixelFormat: c.pixelFormat };
  }
}
