import { performance } from "node:perf_hooks";
import { loadConfig } from "../config/load-config.js";
import { ConfigError } from "../config/config-error.js";
import type { Roi } from "../drivers/camera/gray-frame.js";
import { FrameDecoder } from "../drivers/camera/frame-decoder.js";
import { ImageReadError, readGrayImage } from "../drivers/camera/image-file.js";
import { DecoderLoadError } from "../drivers/camera/qr-decoder.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const HELP = `usage: qrgate decode FILE… [--json] [--config FILE] [--try-harder | --fast]
                     [--roi X,Y,W,H] [--downscale N]

Runs image files (PNG, JPEG, WebP, or a camera snapshot) through the camera
scanner's own pipeline: 8-bit grayscale, region of interest, downscaling and the
zxing-wasm QR decoder with the options of scanner.camera in the configuration
(--config, $QRGATE_CONFIG, /etc/qrgate/config.json, else the defaults: fast
mode, whole image). Flags override the configuration.

Prints one line per file: the text found, or why nothing was. With --json, one
JSON object per line: {"file", "text", "format", "ms"} (text and format null
when nothing was decoded; "error" says why a file could not be read); ms is the
pipeline and decode time, image file reading excluded.

Exit status: 0 every file decoded, 1 some file had no code or could not be
read, 2 usage error.`;

function parseRoi(s: string): Roi {
  const parts = s.split(",").map((p) => Number(p.trim()));
  const [x, y, width, height] = parts;
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0) || x === undefined || y === undefined || width === undefined || height === undefined || width < 1 || height < 1) {
    throw new CliError(`decode: --roi wants X,Y,WIDTH,HEIGHT in whole pixels, not '${s}'`);
  }
  return { x, y, width, height };
}

function parseDownscale(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new CliError(`decode: --downscale wants 1, 2, 3 or 4, not '${s}'`);
  return n;
}

/** Control characters shown escaped, so a code cannot move the cursor or hide text in a terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine("decode", {
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      config: { type: "string" },
      "try-harder": { type: "boolean", default: false },
      fast: { type: "boolean", default: false },
      roi: { type: "string" },
      downscale: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const files = parsed.positionals;
  if (files.length === 0) throw new CliError("decode needs at least one image file (try: qrgate decode --help)");
  if (v["try-harder"] && v.fast) throw new CliError("decode: --try-harder and --fast contradict each other");
  let camera;
  try {
    camera = loadConfig(v.config).config.scanner.camera;
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  const roi = v.roi !== undefined ? parseRoi(v.roi) : camera.roi;
  const downscale = v.downscale !== undefined ? parseDownscale(v.downscale) : camera.downscale;
  const tryHarder = v["try-harder"] ? true : v.fast ? false : camera.tryHarder;

  const decoder = new FrameDecoder({
    decoder: { tryHarder, tryInvert: camera.tryInvert },
    pipeline: { downscale, ...(roi !== undefined ? { roi } : {}) },
  });
  try {
    await decoder.start();
  } catch (e) {
    if (e instanceof DecoderLoadError) throw new CliError(`decode: ${e.message}`, 1);
    throw e;
  }
  let failures = 0;
  try {
    for (const file of files) {
      let line: string;
      try {
        const frame = await readGrayImage(file);
        const size = `${frame.width}x${frame.height}`;
        const t0 = performance.now();
        const o = await decoder.decode(frame);
        // Round trip to the worker included: that is what the camera pays per frame too.
        const ms = Math.round((performance.now() - t0) * 100) / 100;
        if (o.code === null) failures++;
        if (v.json) {
          line = JSON.stringify({ file, text: o.code?.text ?? null, format: o.code?.format ?? null, ms, ...(o.error !== undefined ? { error: o.error } : {}) });
        } else if (o.error !== undefined) {
          line = `${file}: cannot decode (${size}): ${o.error}`;
        } else if (o.code === null) {
          line = `${file}: no QR code found (${size}, ${tryHarder ? "try-harder" : "fast"} mode, ${ms} ms)`;
        } else {
          line = `${file}: ${printable(o.code.text)}`;
        }
      } catch (e) {
        if (!(e instanceof ImageReadError)) throw e;
        failures++;
        line = v.json ? JSON.stringify({ file, text: null, format: null, ms: null, error: e.message }) : `${file}: cannot read: ${e.message}`;
      }
      process.stdout.write(line + "\n");
    }
  } finally {
    await decoder.stop();
  }
  return failures === 0 ? 0 : 1;
}
