import { describe, expect, it } from "vitest";
import { crop, downscale, prepareFrame, roiProblem } from "../../src/drivers/camera/frame-pipeline.js";
import { pickText } from "../../src/drivers/camera/qr-text.js";

const frame = (width: number, height: number, f: (x: number, y: number) => number) => {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = f(x, y);
  return { data, width, height };
};

describe("frame pipeline", () => {
  it("crops to the region of interest", () => {
    const out = crop(frame(4, 3, (x, y) => y * 10 + x), { x: 1, y: 1, width: 2, height: 2 });
    expect(out).toEqual({ width: 2, height: 2, data: Uint8Array.from([11, 12, 21, 22]) });
  });

  it("averages blocks when downscaling, rounding, and drops a partial edge block", () => {
    const out = downscale(frame(5, 2, (x, y) => (x < 2 ? (y === 0 ? 0 : 255) : 100)), 2);
    expect(out.width).toBe(2);
    expect(out.height).toBe(1);
    expect([...out.data]).toEqual([128, 100]);
  });

  it("applies ROI first, then downscaling", () => {
    const out = prepareFrame(frame(8, 8, (x) => (x >= 4 ? 200 : 0)), { roi: { x: 4, y: 0, width: 4, height: 4 }, downscale: 2 });
    expect(out).toEqual({ width: 2, height: 2, data: Uint8Array.from([200, 200, 200, 200]) });
  });

  it("leaves the input frame untouched", () => {
    const input = frame(4, 4, (x, y) => x + y);
    const copy = Uint8Array.from(input.data);
    prepareFrame(input, { roi: { x: 0, y: 0, width: 2, height: 2 }, downscale: 2 });
    expect(input.data).toEqual(copy);
  });

  it.each([
    [{ x: 600, y: 0, width: 100, height: 100 }, /does not fit in a 640x480 frame/],
    [{ x: 0, y: 400, width: 100, height: 100 }, /does not fit/],
    [{ x: 0, y: 0, width: 0, height: 100 }, /empty/],
  ])("refuses a region of interest outside the frame: %j", (roi, why) => {
    expect(roiProblem(roi, 640, 480)).toMatch(why);
    expect(() => crop(frame(640, 480, () => 0), roi)).toThrow(why);
  });

  it("accepts a region of interest that touches the frame's edges", () => {
    expect(roiProblem({ x: 540, y: 380, width: 100, height: 100 }, 640, 480)).toBeNull();
  });
});

describe("QR text", () => {
  const vietnamese = "Nguyễn Văn An|Nữ|Hà Nội";
  const utf8 = Buffer.from(vietnamese, "utf8");

  it("takes UTF-8 bytes as UTF-8 even when the decoder guessed another charset (mojibake)", () => {
    const guessed = utf8.toString("latin1");
    expect(pickText(utf8, guessed)).toEqual({ bytes: utf8, text: vietnamese });
  });

  it("keeps the decoder's conversion for bytes that are not UTF-8 (a Shift-JIS or Latin-1 code)", () => {
    const latin1 = Buffer.from("Café", "latin1");
    const out = pickText(latin1, "Café");
    expect(out.text).toBe("Café");
    expect(out.bytes.equals(Buffer.from("Café", "utf8"))).toBe(true);
  });
});
