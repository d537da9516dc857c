import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CameraSettings } from "../../src/config/config.js";
import { systemClock, type Clock } from "../../src/drivers/clock.js";
import { CameraScanner } from "../../src/drivers/scanner/camera-scanner.js";
import type { ScannedCode, ScannerState } from "../../src/drivers/scanner/scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { CCCD_TEXT, H, W, heldCamera, makeFrames, movingCardCamera, stillCamera, twiceShownCamera, type Frames } from "../support/camera-frames.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });

const camera: CameraSettings = {
  source: "command",
  device: "/dev/video0",
  pixelFormat: "gray",
  width: W,
  height: H,
  fps: 15,
  downscale: 1,
  tryHarder: false,
  tryInvert: true,
  restartMinMs: 1000,
  restartMaxMs: 8000,
};

class Recorder {
  readonly codes: ScannedCode[] = [];
  readonly states: Array<{ s: ScannerState; detail: string }> = [];
  stoppedAt = -1;
  readonly listener = {
    code: (c: ScannedCode) => {
      if (this.stoppedAt >= 0) throw new Error("code after stop");
      this.codes.push(c);
    },
    state: (s: ScannerState, detail: string) => this.states.push({ s, detail }),
  };
  texts(): string[] {
    return this.codes.map((c) => c.bytes.toString("utf8"));
  }
  count(s: ScannerState): number {
    return this.states.filter((x) => x.s === s).length;
  }
}

let frames: Frames;
const running: CameraScanner[] = [];

function scanner(argv: string[], opts: { dedupMs?: number; clock?: Clock; settings?: Partial<CameraSettings> } = {}): CameraScanner {
  const s = new CameraScanner(
    { camera: { ...camera, ...opts.settings }, dedupMs: opts.dedupMs ?? 1500, command: { argv, pixelFormat: "gray" } },
    opts.clock ?? systemClock,
    log,
  );
  running.push(s);
  return s;
}

/** Runs a camera command to its end: the stream ending is reported as `lost`, which is when we look. */
async function runToEnd(s: CameraScanner, rec: Recorder): Promise<void> {
  await s.start(rec.listener);
  await waitFor(() => rec.count("lost") > 0, "the camera command to end");
  // Frames already read may still be in the worker; the stats say when all of them are answered.
  await waitFor(() => {
    const st = s.stats();
    return st.decoded + st.dropped === st.submitted;
  }, "the decoder to finish the last frame");
}

beforeAll(() => {
  frames = makeFrames();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

describe("camera scanner", () => {
  it("reads a Vietnamese ID card's UTF-8 text from the camera's frames, byte for byte", async () => {
    const rec = new Recorder();
    const s = scanner(stillCamera(frames.sharp, 5), { clock: new FakeClock() });
    await runToEnd(s, rec);
    expect(rec.texts()).toEqual([CCCD_TEXT]);
    expect(rec.codes[0]?.bytes.equals(Buffer.from(CCCD_TEXT, "utf8"))).toBe(true);
    expect(rec.states[0]?.s).toBe("connected");
    expect(s.stats().frames).toBe(5);
  });

  it("finds nothing in frames without a code", async () => {
    const rec = new Recorder();
    const s = scanner(stillCamera(frames.empty, 10), { clock: new FakeClock() });
    await runToEnd(s, rec);
    expect(s.stats().frames).toBe(10);
    expect(rec.codes).toEqual([]);
  });

  it.each([
    ["blurred", () => frames.blurred],
    ["rotated by 23 degrees", () => frames.rotated],
    ["low in contrast", () => frames.lowContrast],
  ])("decodes a card that is %s", async (_what, image) => {
    const rec = new Recorder();
    const s = scanner(stillCamera(image(), 3), { clock: new FakeClock() });
    await runToEnd(s, rec);
    expect(rec.texts()).toEqual([CCCD_TEXT]);
  });

  it("decodes a card moving through the frame, once", async () => {
    const rec = new Recorder();
    const s = scanner(movingCardCamera(frames.qr, 3));
    await runToEnd(s, rec);
    expect(s.stats().frames).toBeGreaterThanOrEqual(40);
    expect(rec.texts()).toEqual([CCCD_TEXT]);
  });

  it("a card held in front of the lens is one scan, stamped with its frame's arrival", async () => {
    const rec = new Recorder();
    const before = systemClock.monoMs();
    const s = scanner(heldCamera(frames.sharp, 2));
    await runToEnd(s, rec);
    expect(s.stats().frames).toBeGreaterThanOrEqual(25);
    expect(rec.codes).toHaveLength(1);
    expect(rec.codes[0]?.receivedMono).toBeGreaterThan(before);
    expect(rec.codes[0]?.receivedMono).toBeLessThan(systemClock.monoMs());
  });

  it("the same card shown again after more than dedupMs is a second scan; within dedupMs it is not", async () => {
    const again = new Recorder();
    await runToEnd(scanner(twiceShownCamera(frames.qr, 0.6, 1.2), { dedupMs: 400 }), again);
    expect(again.texts()).toEqual([CCCD_TEXT, CCCD_TEXT]);

    const once = new Recorder();
    await runToEnd(scanner(twiceShownCamera(frames.qr, 0.6, 1.2), { dedupMs: 5000 }), once);
    expect(once.texts()).toEqual([CCCD_TEXT]);
  });

  it("a region of interest that leaves the code out finds nothing; one around it finds it", async () => {
    const outside = new Recorder();
    await runToEnd(scanner(stillCamera(frames.sharp, 2), { settings: { roi: { x: 0, y: 0, width: 160, height: 480 } } }), outside);
    expect(outside.codes).toEqual([]);
    const around = new Recorder();
    await runToEnd(scanner(stillCamera(frames.sharp, 2), { settings: { roi: { x: 160, y: 80, width: 320, height: 320 }, downscale: 2 } }), around);
    expect(around.texts()).toEqual([CCCD_TEXT]);
  });

  it("a camera command that dies is reported lost once and restarted with doubling backoff", async () => {
    const clock = new FakeClock();
    const rec = new Recorder();
    const s = scanner(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", "/nonexistent/camera.png", "-f", "rawvideo", "-"], { clock });
    await s.start(rec.listener);
    await waitFor(() => rec.count("lost") === 1, "the dead camera reported lost");
    expect(rec.states[0]?.detail).toMatch(/camera command 'ffmpeg' exited with code \d+: .*nonexistent/);
    expect(s.stats().launches).toBe(1);
    clock.advance(999);
    expect(s.stats().launches).toBe(1);
    clock.advance(1);
    expect(s.stats().launches).toBe(2);
    await waitFor(() => clock.pendingTimers === 1, "the second failure scheduling the next restart");
    clock.advance(1999);
    expect(s.stats().launches).toBe(2);
    clock.advance(1);
    expect(s.stats().launches).toBe(3);
    // The same problem again is not a new alarm.
    expect(rec.count("lost")).toBe(1);
  });

  it("a missing camera program is named plainly, and the camera comes back when it can start", async () => {
    const clock = new FakeClock();
    const rec = new Recorder();
    const s = scanner(["qrgate-no-such-camera-program"], { clock });
    await s.start(rec.listener);
    await waitFor(() => rec.count("lost") === 1, "lost");
    expect(rec.states[0]?.detail).toBe("camera command 'qrgate-no-such-camera-program' not found: is it installed and on PATH?");
    await s.stop();

    // A camera that streams after a failure reports connected again (an unplugged webcam plugged back in).
    const rec2 = new Recorder();
    const s2 = scanner(stillCamera(frames.sharp, 3), { clock });
    await s2.start(rec2.listener);
    await waitFor(() => rec2.count("lost") === 1, "the short stream to end");
    expect(rec2.count("connected")).toBe(1);
    clock.advance(1000);
    await waitFor(() => rec2.count("connected") === 2, "the restarted camera streaming again");
  });

  it("a decoder worker that dies is reported lost, and camera and decoder are restarted", async () => {
    // A worker that says ready, then dies on its first frame: a crash inside the wasm, say.
    const workerFile = join(frames.dir, "dying-worker.mjs");
    writeFileSync(workerFile, `import { parentPort } from "node:worker_threads";\nparentPort.postMessage({ type: "ready", loadMs: 0 });\nparentPort.on("message", () => process.exit(7));\n`);
    const clock = new FakeClock();
    const rec = new Recorder();
    const s = new CameraScanner({ camera, dedupMs: 1500, command: { argv: heldCamera(frames.sharp, 30), pixelFormat: "gray" }, workerFile }, clock, log);
    running.push(s);
    await s.start(rec.listener);
    await waitFor(() => rec.count("lost") === 1, "the dead decoder reported");
    expect(rec.states.find((x) => x.s === "lost")?.detail).toBe("decoder worker exited with code 7");
    clock.advance(1000);
    await waitFor(() => s.stats().launches === 2 && rec.count("connected") === 2, "camera and decoder restarted");
  });

  it("delivers no code after stop, and stop ends the camera process", async () => {
    const rec = new Recorder();
    const s = scanner(heldCamera(frames.sharp, 30));
    await s.start(rec.listener);
    await waitFor(() => rec.codes.length === 1, "the first code");
    await s.stop();
    rec.stoppedAt = rec.codes.length;
    await s.stop();
    expect(s.stats().frames).toBeGreaterThan(0);
  });

  it("the test frames are what they claim: the sharp frame really is 640x480 gray with a code in the middle", () => {
    const png = readFileSync(frames.sharp);
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(W);
    expect(png.readUInt32BE(20)).toBe(H);
  });
});
