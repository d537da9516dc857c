/**
 * `npm run bench` (camera part): the camera path on this machine. Frames of 640x480 and 1280x720, with a code
 * and without: decode time in the worker (first frame, steady state), frames per second one worker sustains,
 * native zxing-cpp (Debian's python3-zxing-cpp) on the very same frames for the ratio; then a live gate fed at
 * 15 fps by ffmpeg as the camera: frame arrival -> relay command, event-loop delay, and a second scanner's
 * code -> relay while the camera decodes. Figures, not assertions.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import type { StatusRow } from "../../src/core/status-row.js";
import { FrameDecoder } from "../../src/drivers/camera/frame-decoder.js";
import type { GrayFrame } from "../../src/drivers/camera/gray-frame.js";
import { readGrayImage } from "../../src/drivers/camera/image-file.js";
import { systemClock } from "../../src/drivers/clock.js";
import { CameraScanner } from "../../src/drivers/scanner/camera-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import type { ScanOutcome } from "../../src/gate.js";
import type { Scanner, ScannerListener } from "../../src/drivers/scanner/scanner.js";

const ID = "001099012345";
const CARD = `${ID}|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;
const OTHER_ID = "001099054321";
const OTHER_CARD = `${OTHER_ID}||Trần Thị Bình|12031988|Nữ|Quận 1, TP. Hồ Chí Minh|20052021`;
const THIRD_ID = "079088001122";
const THIRD_CARD = `${THIRD_ID}||Lê Văn Cường|05051985|Nam|Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh|01022022`;
const STEADY = 40;
const LIVE_S = 8;

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}
const f2 = (n: number) => n.toFixed(2).padStart(7);

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...args]);
}

/** A textured scene (ffmpeg's testsrc2 in gray, so the binarizer has edges to chew on), with or without the card. */
function scene(dir: string, qr: string | null, w: number, h: number): string {
  const out = join(dir, `${w}x${h}-${qr === null ? "none" : "code"}.png`);
  const side = Math.round(h * 0.45);
  if (qr === null) ffmpeg(["-f", "lavfi", "-i", `testsrc2=s=${w}x${h}`, "-vf", "format=gray", "-frames:v", "1", out]);
  else {
    ffmpeg(["-f", "lavfi", "-i", `testsrc2=s=${w}x${h}`, "-i", qr, "-filter_complex", `[1]scale=${side}:${side}:flags=neighbor[q];[0][q]overlay=x=(W-w)/2:y=(H-h)/2,format=gray`, "-frames:v", "1", out]);
  }
  return out;
}

interface DecodeFigures {
  firstMs: number;
  workerP50: number;
  workerP99: number;
  roundTripP50: number;
  fps: number;
  found: boolean;
}

async function timeDecoder(frame: GrayFrame, tryHarder: boolean, tryRotate: boolean): Promise<DecodeFigures> {
  const d = new FrameDecoder({ decoder: { tryHarder, tryRotate, tryInvert: true }, pipeline: { downscale: 1 } });
  await d.start();
  const copy = () => ({ ...frame, data: Uint8Array.from(frame.data) });
  let t = performance.now();
  const first = await d.decode(copy());
  const firstMs = performance.now() - t;
  const worker: number[] = [];
  const trip: number[] = [];
  const t0 = performance.now();
  let found = first.code !== null;
  for (let i = 0; i < STEADY; i++) {
    const f = copy();
    t = performance.now();
    const o = await d.decode(f);
    trip.push(performance.now() - t);
    worker.push(o.ms);
    found &&= o.code !== null;
  }
  const fps = (STEADY * 1000) / (performance.now() - t0);
  await d.stop();
  return { firstMs, workerP50: pct(worker, 50), workerP99: pct(worker, 99), roundTripP50: pct(trip, 50), fps, found };
}

/** Native zxing-cpp 1.x through python3-zxing-cpp: try-harder is always on there, rotation off as asked. */
function timeNative(dir: string, frames: Array<{ name: string; frame: GrayFrame }>): Map<string, { firstMs: number; p50: number; found: boolean }> {
  const list = frames.map(({ name, frame }) => {
    const file = join(dir, `${name}.gray`);
    writeFileSync(file, frame.data);
    return { name, file, w: frame.width, h: frame.height };
  });
  const script = `
import json, sys, time, numpy, zxingcpp
out = {}
for f in json.loads(sys.argv[1]):
    img = numpy.fromfile(f["file"], dtype=numpy.uint8).reshape((f["h"], f["w"]))
    t = time.perf_counter(); r = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False); first = (time.perf_counter() - t) * 1000
    ms = []
    for i in range(${STEADY}):
        t = time.perf_counter(); r = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False); ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    out[f["name"]] = {"firstMs": first, "p50": ms[len(ms) // 2], "found": len(r) > 0}
print(json.dumps(out))
`;
  try {
    const json = execFileSync("/usr/bin/python3", ["-c", script, JSON.stringify(list)], { encoding: "utf8" });
    return new Map(Object.entries(JSON.parse(json) as Record<string, { firstMs: number; p50: number; found: boolean }>));
  } catch (e) {
    const why = (e as Error).message.includes("No module named") ? "install Debian's python3-zxing-cpp and python3-numpy" : (e as Error).message.split("\n")[0] ?? "";
    process.stdout.write(`native zxing-cpp not measured: ${why}\n`);
    return new Map();
  }
}

/** A second scanner on the same door, driven by the bench (as a serial scanner's codes would arrive). */
class BenchScanner implements Scanner {
  readonly name = "bench";
  listener: ScannerListener | null = null;
  constructor(private readonly inner: Scanner | null) {}
  async start(l: ScannerListener): Promise<void> {
    this.listener = l;
    await this.inner?.start(l);
  }
  async stop(): Promise<void> {
    await this.inner?.stop();
  }
  emit(text: string): void {
    this.listener?.code({ bytes: Buffer.from(text, "utf8"), receivedMono: systemClock.monoMs() });
  }
}

interface LiveFigures {
  cameraToRelay: number[];
  otherToRelay: number[];
  loopP99: number;
  loopMax: number;
  frames: number;
  decoded: number;
  dropped: number;
}

async function live(dir: string, name: string, cameraArgv: string[] | null, w: number, h: number, opts: { dedupMs: number; other: boolean }): Promise<LiveFigures> {
  const config = validateConfig(
    { site: "bench", device: name, scanner: { type: "sim" }, relay: { type: "sim", pulseMs: 100 }, mqtt: { url: "mqtt://127.0.0.1:1" }, store: { path: join(dir, `${name}.db`) }, dedupMs: opts.dedupMs, log: { level: "silent" } },
    "bench",
  );
  const camera =
    cameraArgv === null
      ? null
      : new CameraScanner(
          { camera: { ...config.scanner.camera, source: "command", width: w, height: h, restartMaxMs: 600_000, restartMinMs: 600_000 }, dedupMs: opts.dedupMs, command: { argv: cameraArgv, pixelFormat: "gray" } },
          systemClock,
          pino({ level: "silent" }),
        );
  const scanner = new BenchScanner(camera);
  const app = new GateApp(config, pino({ level: "silent" }), { scanner });
  const outcomes: Array<{ o: ScanOutcome; kind: "camera" | "other" }> = [];
  let expectOther = false;
  app.onOutcome((o) => {
    outcomes.push({ o, kind: expectOther ? "other" : "camera" });
    expectOther = false;
  });
  await app.start();
  // Scans before this are denied unknown_subject and not counted (only allows command the relay).
  const rows: StatusRow[] = [ID, OTHER_ID, THIRD_ID].map((id) => ({ id, status: "clear", doses: 2, lastDose: "2021-09-01", recoveredOn: null, dob: null, zone: "green", flags: [] }));
  const stage = app.status.beginReplace();
  stage.addBatch(rows);
  stage.commit(Date.now());
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // The other scanner: a code every 150 ms, as a busy serial reader would send them (two people in turn, so
  // the gate's de-duplication never swallows one).
  let turn = 0;
  const timer = setInterval(() => {
    if (!opts.other) return;
    expectOther = true;
    scanner.emit(turn++ % 2 === 0 ? OTHER_CARD : THIRD_CARD);
  }, 150);
  await new Promise((r) => setTimeout(r, LIVE_S * 1000));
  clearInterval(timer);
  loop.disable();
  const stats = camera?.stats() ?? { frames: 0, decoded: 0, dropped: 0 };
  await app.stop();
  const allowed = (k: "camera" | "other") => outcomes.filter((x) => x.kind === k && x.o.decision === "allow").map((x) => x.o.totalMs);
  return { cameraToRelay: allowed("camera"), otherToRelay: allowed("other"), loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, frames: stats.frames, decoded: stats.decoded, dropped: stats.dropped };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-cam-bench-"));
  const qr = join(dir, "card.png");
  execFileSync("qrencode", ["-8", "-l", "M", "-s", "4", "-m", "4", "-o", qr, CARD]);
  const frames: Array<{ name: string; frame: GrayFrame; png: string }> = [];
  for (const [w, h] of [[640, 480], [1280, 720]] as const) {
    for (const withCode of [true, false]) {
      const png = scene(dir, withCode ? qr : null, w, h);
      frames.push({ name: `${w}x${h} ${withCode ? "code" : "none"}`, frame: await readGrayImage(png), png });
    }
  }

  const native = timeNative(dir, frames);
  process.stdout.write(`\ncamera decode (zxing-wasm in a worker; ${STEADY} frames steady state; native = zxing-cpp ${"1.4"} via python3-zxing-cpp, try-harder, no rotation)\n`);
  process.stdout.write(`${"frame".padEnd(16)} ${"mode".padEnd(12)} found  first ms  p50 ms  p99 ms  trip p50   fps   native p50  ratio\n`);
  for (const { name, frame } of frames) {
    const n = native.get(name);
    for (const [mode, harder, rotate] of [["fast*", false, false], ["harder", true, false]] as const) {
      const r = await timeDecoder(frame, harder, rotate);
      const ratio = n !== undefined ? (r.workerP50 / n.p50).toFixed(2) : "-";
      process.stdout.write(
        `${name.padEnd(16)} ${mode.padEnd(12)} ${String(r.found).padEnd(5)} ${f2(r.firstMs)}   ${f2(r.workerP50)} ${f2(r.workerP99)}  ${f2(r.roundTripP50)} ${r.fps.toFixed(0).padStart(5)}   ${n !== undefined ? `${f2(n.p50)} ${n.found ? "y" : "n"}` : "     -   "}  ${ratio}\n`,
      );
    }
  }
  process.stdout.write("(* the camera's default mode; ratio = our worker p50 / native p50; native first-frame ms: " + [...native].map(([k, v]) => `${k} ${v.firstMs.toFixed(1)}`).join(", ") + ")\n");

  process.stdout.write(`\nlive gate, ${LIVE_S} s each, camera = ffmpeg at 15 fps real time, a code in every frame, dedupMs 0 (every frame a scan):\n\n`);
  const base = await live(dir, "baseline", null, 640, 480, { dedupMs: 1500, other: true });
  for (const [w, h] of [[640, 480], [1280, 720]] as const) {
    const png = frames.find((f) => f.name === `${w}x${h} code`)?.png as string;
    const argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-loop", "1", "-framerate", "15", "-i", png, "-t", String(LIVE_S + 2), "-pix_fmt", "gray", "-f", "rawvideo", "-"];
    const r = await live(dir, `camera-${w}`, argv, w, h, { dedupMs: 0, other: true });
    process.stdout.write(
      `${w}x${h}: frame arrival -> relay command p50 ${f2(pct(r.cameraToRelay, 50))} p99 ${f2(pct(r.cameraToRelay, 99))} ms over ${r.cameraToRelay.length} scans; ` +
        `frames ${r.frames}, decoded ${r.decoded}, dropped ${r.dropped}; event-loop delay p99 ${f2(r.loopP99)} max ${f2(r.loopMax)} ms\n` +
        `           second scanner code -> relay p50 ${f2(pct(r.otherToRelay, 50))} p99 ${f2(pct(r.otherToRelay, 99))} ms (no camera: p50 ${f2(pct(base.otherToRelay, 50))} p99 ${f2(pct(base.otherToRelay, 99))} ms)\n`,
    );
  }
  // Decoding alone: the card held in front of the lens is one scan (default dedupMs), every frame still decoded.
  const held = frames.find((f) => f.name === "640x480 code")?.png as string;
  const argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-loop", "1", "-framerate", "15", "-i", held, "-t", String(LIVE_S + 2), "-pix_fmt", "gray", "-f", "rawvideo", "-"];
  const d = await live(dir, "decode-only", argv, 640, 480, { dedupMs: 1500, other: true });
  process.stdout.write(
    `\n640x480, card held (one scan), every frame decoded at 15 fps (frames ${d.frames}, decoded ${d.decoded}, dropped ${d.dropped}):\n` +
      `  event-loop delay p99 ${f2(d.loopP99)} max ${f2(d.loopMax)} ms (no camera: p99 ${f2(base.loopP99)} max ${f2(base.loopMax)} ms)\n` +
      `  second scanner code -> relay p50 ${f2(pct(d.otherToRelay, 50))} p99 ${f2(pct(d.otherToRelay, 99))} ms over ${d.otherToRelay.length} scans (no camera: p50 ${f2(pct(base.otherToRelay, 50))} p99 ${f2(pct(base.otherToRelay, 99))} ms)\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`camera bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
