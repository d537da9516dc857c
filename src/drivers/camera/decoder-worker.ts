/**
 * The decoder's worker thread: loads zxing-wasm once, then prepares (ROI, downscale) and decodes each frame it
 * is sent. Decoding takes milliseconds to tens of milliseconds; here it never holds up the gate's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import type { DecoderReply, DecoderWorkerData, FrameRequest } from "./decoder-protocol.js";
import { prepareFrame } from "./frame-pipeline.js";
import { QrDecoder } from "./qr-decoder.js";

const port = parentPort;
if (port === null) throw new Error("decoder-worker.js runs as a worker thread only");
const data = workerData as DecoderWorkerData;

const send = (m: DecoderReply): void => port.postMessage(m);

const t0 = performance.now();
QrDecoder.load(data.decoder).then(
  (decoder) => {
    port.on("message", (req: FrameRequest) => {
      const start = performance.now();
      try {
        const frame = prepareFrame({ data: req.data, width: req.width, height: req.height }, data.pipeline);
        const code = decoder.decode(frame);
        send({ type: "result", id: req.id, ms: performance.now() - start, code });
      } catch (e) {
        send({ type: "result", id: req.id, ms: performance.now() - start, code: null, error: (e as Error).message });
      }
    });
    send({ type: "ready", loadMs: performance.now() - t0 });
  },
  (e: unknown) => send({ type: "failed", message: (e as Error).message }),
);
