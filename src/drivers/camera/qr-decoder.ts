import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { GrayFrame } from "./gray-frame.js";
import { pickText } from "./qr-text.js";

/** zxing options the camera exposes; everything else is fixed (QR only, one symbol, plain text). */
export interface DecoderOptions {
  /** zxing's thorough search (slower); with it, rotations are tried too. */
  readonly tryHarder: boolean;
  /** Also look for light-on-dark codes. */
  readonly tryInvert: boolean;
  /** Try 90/180/270 degree rotations; by default only with tryHarder (zxing-cpp's own blackbox modes). */
  readonly tryRotate?: boolean;
}

export interface DecodedQr {
  /** What the gate receives: the code's UTF-8 bytes. */
  readonly bytes: Buffer;
  readonly text: string;
  /** zxing's format name: `QRCode`. */
  readonly format: string;
}

/** The zxing-wasm .wasm could not be found or instantiated: a broken install, not a camera problem. */
export class DecoderLoadError extends Error {
  readonly code = "E_DECODER_LOAD";
  constructor(message: string) {
    super(message);
    this.name = "DecoderLoadError";
  }
}

// The parts of zxing-wasm's (internal) Emscripten module this file uses; see zxing-wasm/dist/es/share.d.ts.
interface ZxingResult {
  readonly isValid: boolean;
  readonly format: string;
  readonly bytes: Uint8Array;
  readonly text: string;
}
interface ZxingVector {
  size(): number;
  get(i: number): ZxingResult;
  delete?(): void;
}
interface ZxingModule {
  readonly HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  readBarcodesFromPixmap(ptr: number, width: number, height: number, options: Record<string, unknown>): ZxingVector;
}

/** Where the bundled reader .wasm is installed. */
export function readerWasmPath(): string {
  return createRequire(import.meta.url).resolve("zxing-wasm/reader/zxing_reader.wasm");
}

/**
 * zxing-wasm restricted to QR codes, fed 8-bit grayscale pixels directly (no RGBA round trip). `load` reads the
 * .wasm that ships in the installed package: zxing-wasm's default fetches it from a CDN, and a gate is offline.
 */
export class QrDecoder {
  private buffer = 0;
  private bufferBytes = 0;

  private constructor(
    private readonly zx: ZxingModule,
    private readonly options: Record<string, unknown>,
  ) {}

  static async load(opts: DecoderOptions): Promise<QrDecoder> {
    let zxing: typeof import("zxing-wasm/reader");
    let wasm: Buffer;
    try {
      zxing = await import("zxing-wasm/reader");
      wasm = await readFile(readerWasmPath());
    } catch (e) {
      throw new DecoderLoadError(`cannot load zxing-wasm's reader (is the package installed?): ${(e as Error).message}`);
    }
    let zx: ZxingModule;
    try {
      const wasmBinary = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer;
      zx = (await zxing.prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true })) as unknown as ZxingModule;
    } catch (e) {
      throw new DecoderLoadError(`zxing-wasm's reader failed to start: ${(e as Error).message}`);
    }
    // zxing-wasm's option encoders are indexOf over these exported tables (bindings/*.ts); the internal shape
    // is what readBarcodesFromPixmap takes.
    const options = {
      formats: zxing.encodeFormats(["QRCode"]),
      tryHarder: opts.tryHarder,
      tryRotate: opts.tryRotate ?? opts.tryHarder,
      tryInvert: opts.tryInvert,
      tryDownscale: true,
      tryDenoise: false,
      binarizer: zxing.BINARIZERS.indexOf("LocalAverage"),
      isPure: false,
      downscaleFactor: 3,
      downscaleThreshold: 500,
      minLineCount: 2,
      maxNumberOfSymbols: 1,
      validateOptionalChecksum: false,
      returnErrors: false,
      eanAddOnSymbol: zxing.EAN_ADD_ON_SYMBOLS.indexOf("Ignore"),
      textMode: zxing.TEXT_MODES.indexOf("Plain"),
      characterSet: zxing.CHARACTER_SETS.indexOf("Unknown"),
      tryCode39ExtendedMode: false,
    };
    return new QrDecoder(zx, options);
  }

  /** The first QR code found in the frame, or null. Synchronous: call it off the event loop (a worker). */
  decode(frame: GrayFrame): DecodedQr | null {
    const n = frame.width * frame.height;
    if (frame.data.length < n) throw new RangeError(`frame has ${frame.data.length} bytes, ${frame.width}x${frame.height} needs ${n}`);
    if (n > this.bufferBytes) {
      // One buffer reused frame after frame: malloc/free per frame fragments the wasm heap.
      if (this.buffer !== 0) this.zx._free(this.buffer);
      this.buffer = this.zx._malloc(n);
      if (this.buffer === 0) throw new RangeError(`cannot allocate ${n} bytes in the decoder's memory`);
      this.bufferBytes = n;
    }
    this.zx.HEAPU8.set(frame.data.subarray(0, n), this.buffer);
    const found = this.zx.readBarcodesFromPixmap(this.buffer, frame.width, frame.height, this.options);
    try {
      for (let i = 0; i < found.size(); i++) {
        const r = found.get(i);
        if (!r.isValid) continue;
        const { bytes, text } = pickText(r.bytes, r.text);
        return { bytes, text, format: r.format };
      }
      return null;
    } finally {
      found.delete?.();
    }
  }
}
