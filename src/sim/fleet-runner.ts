/**
 * The fleet simulator's parent (`qrgate sim`, tests/bench/fleet-sim-bench.ts): makes the shared pass issuer key,
 * splits the doors by whole sites over worker processes (src/sim/fleet-worker.ts), starts them together, and
 * gathers their progress, lag samples and final journal counts.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateIssuerKeyPair, writeIssuerKeyFiles } from "../issuer/key-files.js";
import type { FromWorker, ProgressCounts, Sample, ToWorker, WorkerSpec } from "./fleet-messages.js";
import { DEFAULT_MIX, type TrafficMix } from "./traffic.js";

export interface FleetOptions {
  readonly doors: number;
  /** Mean scans per second per door over the run. */
  readonly ratePerDoor: number;
  readonly durationMs: number;
  readonly url: string;
  readonly root?: string;
  /** Where the stores go; a temporary folder (removed at the end) when absent. */
  readonly dir?: string;
  readonly workers?: number;
  readonly doorsPerSite?: number;
  readonly peoplePerDoor?: number;
  readonly peak?: number;
  readonly mix?: TrafficMix;
  readonly seed?: number;
  /** MQTT keepalive of every gate (default DEFAULT_KEEPALIVE_S). */
  readonly keepaliveS?: number;
  readonly healthPeriodS?: number;
  /** The stores' SQLite synchronous mode (default NORMAL: see `qrgate sim --help`). */
  readonly synchronous?: "FULL" | "NORMAL";
  readonly logLevel?: string;
  readonly sampleEvery?: number;
  readonly drainMs?: number;
  /** Called about once a second with the fleet's totals. */
  readonly onProgress?: (p: FleetProgress) => void;
  /** Lag samples: entries as they were journaled (id, gate time). */
  readonly onSamples?: (s: readonly Sample[]) => void;
  /** Ends the traffic early (Ctrl-C): the workers drain their outboxes and report as at the end of the run. */
  readonly signal?: AbortSignal;
  /** Called once every gate is started, before the traffic begins. */
  readonly onReady?: (r: FleetReady) => void;
}

export interface FleetProgress extends ProgressCounts {
  readonly elapsedMs: number;
}

export interface FleetReady {
  readonly gates: number;
  readonly startMs: number;
  /** Resident memory the gates added, summed over the workers. */
  readonly rssPerGateBytes: number;
  readonly workerPids: readonly number[];
}

export interface FleetResult {
  readonly doors: number;
  readonly workers: number;
  readonly scans: number;
  /** Entries in the gates' journals: what the fleet produced. */
  readonly entries: number;
  readonly journal: Readonly<Record<string, number>>;
  readonly reasons: Readonly<Record<string, number>>;
  /** Outbox rows left after the drain (0 when everything reached the broker). */
  readonly outboxRows: number;
  readonly drained: boolean;
  /** Connections the gates made again after their first (a broker or a stalled worker dropped them). */
  readonly reconnects: number;
  /** The worst worker's event loop delay during the traffic, ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** The most scans any worker had due and not yet made; 0 when the simulator kept up. */
  readonly behindMax: number;
  /** How long after the run's end the last scan due in it was made, ms (0: the simulator kept up). */
  readonly lateMs: number;
  readonly runMs: number;
  readonly ready: FleetReady;
}

/**
 * The gates' MQTT keepalive unless told otherwise. A device's default (2 s) has the broker drop a gate whose loop
 * stops for 3 s; here a thousand gates share one event loop, and a worker's pause (GC, a burst) is not a gate's.
 */
export const DEFAULT_KEEPALIVE_S = 30;

/** The last scan of the run made later than this after its end: the simulator did not keep up (a tick or two is timer slack). */
export const LATE_MS = 500;

/** Doors per worker process by default: ~4 descriptors a gate keeps one worker well under a 20,000 limit. */
const DOORS_PER_WORKER = 1250;

const WORKER = fileURLToPath(new URL("./fleet-worker.js", import.meta.url));

interface Worker {
  readonly child: ChildProcess;
  progress: { scans: number; entries: number; connected: number; outboxRows: number; reconnects: number; behind: number };
  ready: Extract<FromWorker, { type: "ready" }> | null;
  done: Extract<FromWorker, { type: "done" }> | null;
}

/** Splits `doors` into sites of `perSite` (the last may be smaller), dealt to `workers` in turn. */
export function planSites(doors: number, perSite: number, workers: number): Array<Array<{ site: number; doors: number }>> {
  const plan: Array<Array<{ site: number; doors: number }>> = Array.from({ length: workers }, () => []);
  let site = 0;
  for (let left = doors; left > 0; left -= perSite, site++) plan[site % workers]?.push({ site, doors: Math.min(perSite, left) });
  return plan;
}

export async function runFleet(o: FleetOptions): Promise<FleetResult> {
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "qrgate-sim-"));
  mkdirSync(dir, { recursive: true });
  const perSite = o.doorsPerSite ?? 10;
  const sites = Math.ceil(o.doors / perSite);
  const workerCount = Math.max(1, Math.min(sites, o.workers ?? Math.ceil(o.doors / DOORS_PER_WORKER)));
  const key = generateIssuerKeyPair("EdDSA", "sim-issuer");
  // A folder of its own per run: a --dir used again must not meet the last run's key.
  const keyFiles = await writeIssuerKeyFiles(mkdtempSync(join(dir, "issuer-")), key);
  const plan = planSites(o.doors, perSite, workerCount);
  const workers: Worker[] = [];
  const failures: string[] = [];
  let wake: () => void = () => undefined;
  const changed = (): Promise<void> => new Promise((r) => (wake = r));

  try {
    for (let w = 0; w < workerCount; w++) {
      const child = fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" });
      const worker: Worker = { child, progress: { scans: 0, entries: 0, connected: 0, outboxRows: 0, reconnects: 0, behind: 0 }, ready: null, done: null };
      workers.push(worker);
      child.on("message", (m: FromWorker) => {
        if (m.type === "ready") worker.ready = m;
        else if (m.type === "progress") worker.progress = m;
        else if (m.type === "samples") o.onSamples?.(m.samples);
        else if (m.type === "done") worker.done = m;
        else failures.push(`worker ${w}: ${m.message}`);
        wake();
      });
      child.on("exit", (code) => {
        if (worker.done === null) failures.push(`worker ${w} exited (${code ?? "signal"}) before finishing`);
        wake();
      });
      const spec: WorkerSpec = {
        worker: w,
        url: o.url,
        root: o.root ?? "qrgate/v1",
        dir,
        sites: plan[w] ?? [],
        ratePerDoor: o.ratePerDoor,
        peak: o.peak ?? 1.5,
        durationMs: o.durationMs,
        peoplePerSite: (o.peoplePerDoor ?? 40) * perSite,
        mix: o.mix ?? DEFAULT_MIX,
        seed: o.seed ?? 1,
        jwksPath: keyFiles.jwksPath,
        passKeyPath: keyFiles.privateKeyPath,
        keepaliveS: o.keepaliveS ?? DEFAULT_KEEPALIVE_S,
        healthPeriodS: o.healthPeriodS ?? 30,
        synchronous: o.synchronous ?? "NORMAL",
        logLevel: o.logLevel ?? "warn",
        sampleEvery: o.sampleEvery ?? 0,
        drainMs: o.drainMs ?? 120_000,
      };
      child.send({ type: "spec", spec } satisfies ToWorker);
    }
    const t0 = performance.now();
    const check = (): void => {
      if (failures.length > 0) throw new Error(`fleet simulator: ${failures.join("; ")}`);
    };
    while (workers.some((w) => w.ready === null)) {
      check();
      await changed();
    }
    check();
    const ready: FleetReady = {
      gates: workers.reduce((n, w) => n + (w.ready?.gates ?? 0), 0),
      startMs: performance.now() - t0,
      rssPerGateBytes:
        workers.reduce((n, w) => n + ((w.ready?.rssAfterBytes ?? 0) - (w.ready?.rssBeforeBytes ?? 0)), 0) / Math.max(1, o.doors),
      workerPids: workers.map((w) => w.child.pid ?? 0),
    };
    o.onReady?.(ready);
    const startWallMs = Date.now();
    const runT0 = performance.now();
    for (const w of workers) w.child.send({ type: "go", startWallMs } satisfies ToWorker);
    const stopEarly = (): void => {
      for (const w of workers) if (w.child.connected) w.child.send({ type: "stop" } satisfies ToWorker);
    };
    if (o.signal?.aborted === true) stopEarly();
    o.signal?.addEventListener("abort", stopEarly, { once: true });
    const timer = setInterval(() => {
      const sum = (f: (p: Worker["progress"]) => number): number => workers.reduce((n, w) => n + f(w.progress), 0);
      o.onProgress?.({
        elapsedMs: performance.now() - runT0,
        scans: sum((p) => p.scans),
        entries: sum((p) => p.entries),
        connected: sum((p) => p.connected),
        outboxRows: sum((p) => p.outboxRows),
        reconnects: sum((p) => p.reconnects),
        behind: sum((p) => p.behind),
      });
    }, 1000);
    try {
      while (workers.some((w) => w.done === null)) {
        check();
        await changed();
      }
    } finally {
      clearInterval(timer);
    }
    check();
    const runMs = performance.now() - runT0;
    const journal: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    for (const w of workers) {
      Object.assign(journal, w.done?.journal);
      for (const [k, v] of Object.entries(w.done?.reasons ?? {})) reasons[k] = (reasons[k] ?? 0) + v;
    }
    await Promise.all(workers.map((w) => (w.child.exitCode !== null ? Promise.resolve() : new Promise((r) => w.child.once("exit", r)))));
    return {
      doors: o.doors,
      workers: workerCount,
      scans: workers.reduce((n, w) => n + (w.done?.scans ?? 0), 0),
      entries: Object.values(journal).reduce((a, b) => a + b, 0),
      journal,
      reasons,
      outboxRows: workers.reduce((n, w) => n + (w.done?.outboxRows ?? 0), 0),
      drained: workers.every((w) => w.done?.drained === true),
      reconnects: workers.reduce((n, w) => n + (w.done?.reconnects ?? 0), 0),
      loopDelayP99Ms: Math.max(0, ...workers.map((w) => w.done?.loopDelayP99Ms ?? 0)),
      loopDelayMaxMs: Math.max(0, ...workers.map((w) => w.done?.loopDelayMaxMs ?? 0)),
      behindMax: Math.max(0, ...workers.map((w) => w.done?.behindMax ?? 0)),
      lateMs: Math.max(0, ...workers.map((w) => w.done?.lateMs ?? 0)),
      runMs,
      ready,
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}
