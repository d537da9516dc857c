/**
 * The collector of the ingest bench (fleet-ingest-bench.ts), in a process of its own so that its CPU and RSS are
 * its own: the real `Collector` over the real store, with the store wrapped to record, for every entry, the time
 * from its `ts` (set by the publisher when it published) to the moment its batch's commit returned: the lag to
 * "row committed", in a 1 ms histogram.
 *
 * IPC: sends `{ ready }` once subscribed and `{ progress, stored, duplicate }` every 250 ms; on `{ mark }`
 * answers `{ marked }` (CPU counted from there); on `{ stop }` settles, stops and answers `{ final, ... }`.
 * Environment: ING_URL (broker), ING_DB (postgres:// URL or a SQLite path), ING_BATCH_MAX, ING_RECEIVE_MAX.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino } from "pino";
import { Collector } from "../../src/centre/collector.js";
import { entryTsMs } from "../../src/centre/entry-row.js";
import type { IngestBatch, IngestResult } from "../../src/centre/entry-store.js";
import { openEntryStore } from "../../src/centre/open-store.js";

const HIST_MS = 600_000;

function send(m: unknown): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const url = process.env.ING_URL ?? "mqtt://127.0.0.1:1883";
  const db = process.env.ING_DB ?? "/tmp/qrgate-ingest.db";
  const hist = new Uint32Array(HIST_MS + 1);
  let lastCommitMs = 0;
  const inner = await openEntryStore(db, { applicationName: "qrgate-ingest-bench" });
  const commitBatch = inner.commitBatch.bind(inner);
  // The same store, with its commit timed: every other method goes to the real one untouched.
  const timed = async (b: IngestBatch): Promise<IngestResult> => {
    const r = await commitBatch(b);
    const now = Date.now();
    lastCommitMs = now;
    for (const e of b.entries) hist[Math.min(HIST_MS, Math.max(0, now - entryTsMs(e)))]! += 1;
    return r;
  };
  const store = new Proxy(inner, {
    get(target, prop, receiver): unknown {
      if (prop === "commitBatch") return timed;
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const collector = new Collector({
    store,
    url,
    logger: pino({ level: process.env.ING_LOG ?? "warn" }, pino.destination(2)),
    group: "bench",
    clientId: "bench-collector",
    statsIntervalMs: 0,
    silenceAlarmMs: 0,
    ...(process.env.ING_BATCH_MAX !== undefined ? { batchMax: Number(process.env.ING_BATCH_MAX) } : {}),
    ...(process.env.ING_RECEIVE_MAX !== undefined ? { receiveMaximum: Number(process.env.ING_RECEIVE_MAX) } : {}),
  });
  await collector.start();
  let cpu0 = process.cpuUsage();
  // How long the event loop was held at a time: what the MQTT keepalive and the broker's patience depend on.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const progress = setInterval(
    () => send({ progress: true, stored: collector.stats.entriesNew, duplicate: collector.stats.entriesDuplicate, lastCommitMs }),
    250,
  );
  process.on("message", (m: { mark?: boolean; stop?: boolean }) => {
    if (m.mark === true) {
      cpu0 = process.cpuUsage();
      hist.fill(0);
      loopDelay.reset();
      send({ marked: true });
    } else if (m.stop === true) {
      void (async () => {
        const cpu = process.cpuUsage(cpu0);
        clearInterval(progress);
        await collector.stop();
        await store.close();
        const h: [number, number][] = [];
        for (let i = 0; i < hist.length; i++) if (hist[i]! > 0) h.push([i, hist[i]!]);
        send({
          final: true,
          stored: collector.stats.entriesNew,
          duplicate: collector.stats.entriesDuplicate,
          batches: collector.stats.batches,
          maxBatch: collector.stats.maxBatch,
          pauses: (collector.stats as unknown as Record<string, number | undefined>)["pauses"] ?? 0,
          heldPeak: (collector.stats as unknown as Record<string, number | undefined>)["heldPeak"] ?? 0,
          cpuUs: cpu.user + cpu.system,
          loopMaxMs: loopDelay.max / 1e6,
          loopP99Ms: loopDelay.percentile(99) / 1e6,
          maxRssKb: process.resourceUsage().maxRSS,
          lastCommitMs,
          hist: h,
        });
        process.disconnect?.();
      })();
    }
  });
  send({ ready: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`ingest-collector: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
