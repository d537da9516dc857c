/**
 * Renders text as a QR code PNG with zxing-wasm's writer, loading its bundled .wasm from node_modules: by default
 * zxing-wasm fetches it from a CDN, and a technician's laptop at a door may well be offline.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** A QR code of `text` as PNG bytes, `moduleSize` pixels a module, with quiet zones. */
export async function qrPng(text: string, moduleSize = 4): Promise<Buffer> {
  const zxing = await import("zxing-wasm/writer");
  const wasmPath = createRequire(import.meta.url).resolve("zxing-wasm/writer/zxing_writer.wasm");
  const wasm = readFileSync(wasmPath);
  await zxing.prepareZXingModule({
    overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) },
    fireImmediately: true,
  });
  const out = await zxing.writeBarcode(text, { format: "QRCode", scale: moduleSize, ecLevel: "M" });
  if (out.image === null || out.error !== "") throw new Error(`QR encoding failed: ${out.error}`);
  return Buffer.from(await out.image.arrayBuffer());
}
