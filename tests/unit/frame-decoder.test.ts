import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FrameDecoder, type DecodeOutcome } from "../../src/drivers/camera/frame-decoder.js";
import type { GrayFrame } from "../../src/drivers/camera/gray-frame.js";
import { readGrayImage } from "../../src/drivers/camera/image-file.js";
import { CCCD_TEXT, makeFrames } from "../support/camera-frames.js";
import { waitFor } from "../support/wait.js";

let withCode: GrayFrame;
let empty: GrayFrame;
const decoders: FrameDecoder[] = [];
const copy = (f: GrayFrame): GrayFrame => ({ ...f, data: Uint8Array.from(f.data) });

beforeAll(async () => {
  const frames = makeFrames();
  withCode = await readGrayImage(frames.sharp);
  empty = await readGrayImage(frames.empty);
});

afterEach(async () => {
  await Promise.all(decoders.splice(0).map((d) => d.stop()));
});

async function started(): Promise<FrameDecoder> {
  const d = new FrameDecoder({ decoder: { tryHarder: false, tryInvert: true }, pipeline: { downscale: 1 } });
  decoders.push(d);
  await d.start();
  return d;
}

describe("frame decoder (worker thread)", () => {
  it("while the worker is busy, newer frames replace the waiting one: the newest wins", async () => {
    const d = await started();
    const got: DecodeOutcome[] = [];
    d.onResult((o) => got.push(o));
    d.submit(copy(empty), 1);
    d.submit(copy(empty), 2);
    d.submit(copy(empty), 3);
    d.submit(copy(withCode), 4);
    await waitFor(() => got.length === 2, "two results");
    expect(got.map((o) => o.tag)).toEqual([1, 4]);
    expect(got[1]?.code?.text).toBe(CCCD_TEXT);
    expect(d.stats).toEqual({ submitted: 4, decoded: 2, dropped: 2 });
  });

  it("hands the frame's buffer to the worker instead of copying it", async () => {
    const d = await started();
    const f = copy(withCode);
    const r = new Promise<DecodeOutcome>((resolve) => d.onResult(resolve));
    d.submit(f, 1);
    expect(f.data.byteLength).toBe(0);
    expect((await r).code?.format).toBe("QRCode");
  });

  it("reports a frame it cannot take as an error, not a crash", async () => {
    const d = await started();
    const o = await d.decode({ data: new Uint8Array(10), width: 640, height: 480 });
    expect(o.code).toBeNull();
    expect(o.error).toMatch(/frame has 10 bytes/);
    expect((await d.decode(copy(withCode))).code?.text).toBe(CCCD_TEXT);
  });

  it("reads UTF-8 bytes as UTF-8 even under a Latin-1 ECI label (zxing-wasm's own writer labels them so)", async () => {
    const { prepareZXingModule, writeBarcode } = await import("zxing-wasm/writer");
    const wasm = readFileSync(createRequire(import.meta.url).resolve("zxing-wasm/writer/zxing_writer.wasm"));
    await prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
    const written = await writeBarcode(new TextEncoder().encode(CCCD_TEXT), { format: "QRCode", scale: 4 });
    if (written.image === null) throw new Error(`zxing-wasm writer: ${written.error}`);
    const png = join(mkdtempSync(join(tmpdir(), "qrgate-eci-")), "eci.png");
    writeFileSync(png, Buffer.from(await written.image.arrayBuffer()));
    const d = await started();
    const o = await d.decode(await readGrayImage(png));
    expect(o.code?.text).toBe(CCCD_TEXT);
    expect(o.code?.bytes.equals(Buffer.from(CCCD_TEXT, "utf8"))).toBe(true);
  });

  it("loads its wasm from the installed package, with no network API at all", () => {
    const decoderModule = fileURLToPath(new URL("../../dist/src/drivers/camera/qr-decoder.js", import.meta.url));
    const script = `
      if (typeof fetch !== "undefined") throw new Error("fetch should be absent here");
      const { QrDecoder } = await import(${JSON.stringify(decoderModule)});
      const d = await QrDecoder.load({ tryHarder: false, tryInvert: true });
      process.stdout.write(String(d.decode({ data: new Uint8Array(64 * 64).fill(128), width: 64, height: 64 })));`;
    const r = spawnSync(process.execPath, ["--no-experimental-fetch", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("null");
  });
});
