/**
 * The scanner contract against the camera scanner. The pretend camera is `cat` reading a FIFO that the rig
 * writes raw frames into: `send` draws the code with qrencode and writes one frame holding it; `unplug` closes
 * the FIFO (cat ends, as a camera program does when its webcam goes); `replug` opens it again.
 */
import { execFileSync, execSync } from "node:child_process";
import { closeSync, constants, createWriteStream, mkdtempSync, openSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import { CameraScanner } from "../../src/drivers/scanner/camera-scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { waitFor } from "../support/wait.js";
import { scannerContract, type ScannerRig } from "./scanner-contract.js";

const W = 320;
const H = 240;

/** One raw gray frame: the code drawn by qrencode, centred on a grey background (or just the background). */
function frame(text: string | null): Buffer {
  if (text === null) return Buffer.alloc(W * H, 0x8a);
  const png = execFileSync("qrencode", ["-8", "-l", "L", "-s", "3", "-m", "4", "-o", "-", text]);
  return execFileSync(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", "-", "-vf", `pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2:color=0x8a8a8a,format=gray`, "-frames:v", "1", "-f", "rawvideo", "-"],
    { input: png },
  );
}

function cameraRig(): Promise<ScannerRig> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-cam-contract-"));
  const fifo = join(dir, "camera.fifo");
  execSync(`mkfifo ${JSON.stringify(fifo)}`);
  const clock = new FakeClock();
  const config = validateConfig({ scanner: { type: "camera", camera: { source: "command", command: ["cat", fifo], width: W, height: H, restartMinMs: 1000, restartMaxMs: 1000 } } }, "contract");
  const scanner = new CameraScanner({ camera: config.scanner.camera, dedupMs: config.dedupMs, startWaitMs: 10_000 }, clock, pino({ level: "silent" }));
  let writer: WriteStream | null = null;
  const blank = frame(null);
  // The camera is there: a writer on the FIFO, which opens once cat reads it, then says hello with a blank frame.
  const plug = (): void => {
    const w = createWriteStream(fifo);
    w.on("error", () => {
      /* the reader went away (stop, unplug): a camera sending into nothing */
    });
    w.once("open", () => w.write(blank));
    writer = w;
  };
  plug();
  return Promise.resolve({
    scanner,
    send: async (text) => {
      const w = writer;
      if (w === null) throw new Error("the camera is unplugged");
      const data = frame(text);
      await new Promise<void>((resolve) => w.write(data, () => resolve()));
    },
    unplug: () => {
      writer?.end();
      writer = null;
    },
    replug: plug,
    passRetry: () => clock.advance(1000),
    // Whatever was sent has been written (send awaits it). If a camera program is reading, one more blank frame
    // behind it, answered by the worker, proves the worker is past it; if none is (stopped, unplugged), nothing
    // can arrive.
    settle: async () => {
      const w = writer;
      if (w === null || w.pending || w.destroyed) return;
      const before = scanner.stats().decoded + scanner.stats().dropped;
      const written = await new Promise<boolean>((resolve) => w.write(blank, (e) => resolve(e == null)));
      if (!written) return;
      await waitFor(() => scanner.stats().decoded + scanner.stats().dropped > before, "the worker to answer the frame behind");
    },
    dispose: async () => {
      // A writer still waiting for a reader (replugged after stop) holds a libuv thread in open(2): a
      // non-blocking reader releases it.
      try {
        closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
      } catch {
        /* already gone */
      }
      writer?.destroy();
      await new Promise((r) => setImmediate(r));
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

scannerContract("camera (frames from a child process)", { unplug: true, utf8: true }, cameraRig);
