import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { CLI, runCli } from "../support/cli.js";
import { CCCD_TEXT, makeFrames, type Frames } from "../support/camera-frames.js";

/** zxing-cpp's QR samples (see their README); CI without them skips these tests. */
const SAMPLES = process.env.QRGATE_ZXING_SAMPLES ?? "/work/shared/testdata/zxing-cpp-qrcode";
const samplesHere = existsSync(SAMPLES);

interface Row {
  file: string;
  text: string | null;
  format: string | null;
  ms: number | null;
  error?: string;
}

function images(): string[] {
  return readdirSync(SAMPLES)
    .filter((d) => d.startsWith("qrcode-"))
    .flatMap((d) => readdirSync(join(SAMPLES, d)).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).map((f) => join(SAMPLES, d, f)))
    .sort();
}

/** zxing-cpp's own rule: the .txt beside an image is UTF-8 text; a .bin is the text's bytes as Latin-1. */
function isCorrect(r: Row): boolean {
  if (r.text === null) return false;
  const base = r.file.replace(/\.[^.]+$/, "");
  if (existsSync(`${base}.txt`)) return readFileSync(`${base}.txt`, "utf8") === r.text;
  return readFileSync(`${base}.bin`).equals(Buffer.from(r.text, "latin1"));
}

function decodeJson(args: string[]): { status: number | null; rows: Row[]; stderr: string } {
  // 137 images are 137 ffmpeg runs: on a loaded machine that outlasts runCli's 60 s.
  const r = spawnSync(process.execPath, [CLI, "decode", "--json", ...args], { encoding: "utf8", timeout: 170_000 });
  return { status: r.status, stderr: r.stderr, rows: r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Row) };
}

let frames: Frames;
beforeAll(() => {
  frames = makeFrames();
});

describe.runIf(samplesHere)("qrgate decode over zxing-cpp's own QR samples", () => {
  it("in the camera's default (fast) mode decodes correctly at least the 122 of 137 zxing-cpp reaches in fast mode", () => {
    const files = images();
    expect(files).toHaveLength(137);
    const { rows } = decodeJson(files);
    expect(rows.map((r) => r.file)).toEqual(files);
    const correct = rows.filter(isCorrect).length;
    const misread = rows.filter((r) => r.text !== null && !isCorrect(r)).map((r) => r.file);
    expect(misread).toEqual([]);
    expect(correct).toBeGreaterThanOrEqual(122);
  }, 180_000);

  it("with --try-harder decodes correctly at least the 125 zxing-cpp reaches in try-harder mode", () => {
    const { rows } = decodeJson(["--try-harder", ...images()]);
    expect(rows.filter(isCorrect).length).toBeGreaterThanOrEqual(125);
  }, 180_000);
});

describe("qrgate decode", () => {
  it("prints the Vietnamese text of a camera snapshot, and JSON with file, text, format and ms", () => {
    const plain = runCli(["decode", frames.sharp]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toBe(`${frames.sharp}: ${CCCD_TEXT}\n`);
    const { rows, status } = decodeJson([frames.rotated]);
    expect(status).toBe(0);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ file: frames.rotated, text: CCCD_TEXT, format: "QRCode" });
    expect(rows[0]?.ms).toBeGreaterThan(0);
  });

  it("says why nothing was found, per file, and exits 1", () => {
    const missing = join(frames.dir, "missing.png");
    const junk = join(frames.dir, "junk.png");
    writeFileSync(junk, "not an image");
    const r = runCli(["decode", frames.empty, missing, junk, frames.sharp]);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/empty\.png: no QR code found \(640x480, fast mode, [\d.]+ ms\)$/);
    expect(lines[1]).toBe(`${missing}: cannot read: no such file`);
    expect(lines[2]).toMatch(/junk\.png: cannot read: not an image ffmpeg can read/);
    expect(lines[3]).toBe(`${frames.sharp}: ${CCCD_TEXT}`);
    const { rows } = decodeJson([frames.empty, missing]);
    expect(rows[0]).toMatchObject({ text: null, format: null });
    expect(rows[1]).toMatchObject({ text: null, error: "no such file" });
  });

  it("applies a region of interest and downscaling from flags, and from the config", () => {
    expect(decodeJson(["--roi", "0,0,160,480", frames.sharp]).rows[0]?.text).toBeNull();
    expect(decodeJson(["--roi", "160,80,320,320", "--downscale", "2", frames.sharp]).rows[0]?.text).toBe(CCCD_TEXT);
    const config = join(frames.dir, "roi.json");
    writeFileSync(config, JSON.stringify({ scanner: { type: "camera", camera: { roi: { x: 0, y: 0, width: 160, height: 480 } } } }));
    expect(decodeJson(["--config", config, frames.sharp]).rows[0]?.text).toBeNull();
    const outside = decodeJson(["--roi", "600,0,100,100", frames.sharp]).rows[0];
    expect(outside?.error).toMatch(/does not fit in a 640x480 frame/);
  });

  it.each([
    [[], /decode needs at least one image file/],
    [["--roi", "1,2,3", "x.png"], /--roi wants X,Y,WIDTH,HEIGHT/],
    [["--downscale", "9", "x.png"], /--downscale wants 1, 2, 3 or 4/],
    [["--fast", "--try-harder", "x.png"], /contradict/],
    [["--bogus", "x.png"], /Unknown option '--bogus'/],
  ])("a bad command line %j is one line on stderr and exit 2", (args, why) => {
    const r = runCli(["decode", ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
