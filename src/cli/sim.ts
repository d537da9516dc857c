/**
 * `qrgate sim --doors N`: a simulated fleet of real gates (src/sim/fleet-runner.ts) publishing to one broker.
 * Progress on stderr once a second (every 10 s past a minute); the summary on stdout (text, or one JSON object).
 */
import { parseCommandLine } from "./command-line.js";
import { CliError } from "./cli-error.js";
import { printable } from "../centre/trace-render.js";
import { DEFAULT_KEEPALIVE_S, LATE_MS, runFleet, type FleetResult } from "../sim/fleet-runner.js";
import { DEFAULT_MIX, MAX_PEAK } from "../sim/traffic.js";

const HELP = `usage: qrgate sim --doors N [options]

Runs N real gates (the gate loop, one SQLite store file per door, one MQTT connection per
door) with simulated scanners and relays, fed a morning's traffic, all publishing to one
broker; then drains their outboxes and prints how many entries they produced.

  --doors N             doors (gates) to run (required)
  --rate R              mean scans per second PER DOOR over the run (default 0.5: one scan
                        every 2 s each; 5,000 doors x 0.5 = 2,500 entries/s on average)
  --duration S          seconds of traffic (default 60)
  --peak F              peak-to-mean ratio of the morning curve (default 1.5, at most ${MAX_PEAK.toFixed(2)};
                        1: a flat rate); the curve peaks at 40 % of the run
  --url URL             broker (default mqtt://127.0.0.1:1883)
  --root TOPIC          topic root (default qrgate/v1)
  --dir DIR             where the door stores go (default: a temporary folder, removed at the end)
  --workers N           worker processes (default: one per 1,250 doors)
  --doors-per-site N    doors per site (default 10); a site's people pass its doors
  --people-per-door N   people per door of a site (default 40)
  --pass-share F        share of scans with a signed phone pass (default ${DEFAULT_MIX.passShare}); the rest: chip cards
  --repeat-share F      share of scans by someone who just passed another door of the site (default ${DEFAULT_MIX.repeatShare})
  --seed N              random seed (default 1)
  --keepalive S         MQTT keepalive of every gate (default ${DEFAULT_KEEPALIVE_S}; a device's is 2, but here a
                        worker's pause, shared by a thousand gates, would drop them all)
  --health-period S     health message period of every gate (default 30)
  --sync normal|full    the stores' SQLite synchronous mode (default normal). A device runs full:
                        a disk sync per entry on its own SD card; here thousands of gates share one
                        disk, whose sync rate full would measure instead of the fleet
  --log-level LEVEL     the gates' log level, JSON lines on stderr (default warn)
  --json                print the summary as one JSON object
  -h, --help            this help

About 0.5 % of the people are F0 (denied infected), 0.5 % F1, 1 % lack a dose; 2 % of scans
are travellers known at every site and 0.5 % unknown cards. Exit status: 0 when every
entry reached the broker, 1 when some stayed in an outbox, 2 usage.`;

function num(name: string, v: string | undefined, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER, integer = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new CliError(`sim: --${name}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got '${printable(v)}'`);
  }
  return n;
}

function summary(r: FleetResult): string {
  const s = r.runMs / 1000;
  const reasons = Object.entries(r.reasons)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return [
    `doors ${r.doors} in ${r.workers} worker process(es), started in ${(r.ready.startMs / 1000).toFixed(1)} s, ` +
      `${(r.ready.rssPerGateBytes / 1024).toFixed(0)} KiB resident per gate`,
    `scans ${r.scans} (${(r.scans / s).toFixed(0)}/s over ${s.toFixed(0)} s incl. drain): ${reasons}`,
    `entries produced (in the gates' journals): ${r.entries}`,
    `outbox rows left after the drain: ${r.outboxRows}${r.drained ? "" : " (the drain timed out)"}`,
    `reconnects ${r.reconnects}; worker event loop delay p99 ${r.loopDelayP99Ms.toFixed(0)} ms, max ${r.loopDelayMaxMs.toFixed(0)} ms`,
    r.lateMs > LATE_MS
      ? `the simulator fell behind the rate asked (up to ${r.behindMax} scans due in a worker) and made the last scan ${(r.lateMs / 1000).toFixed(1)} s late`
      : "the simulator kept up with the rate asked",
  ].join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("sim", {
    args: argv,
    options: {
      doors: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      peak: { type: "string" },
      url: { type: "string" },
      root: { type: "string" },
      dir: { type: "string" },
      workers: { type: "string" },
      "doors-per-site": { type: "string" },
      "people-per-door": { type: "string" },
      "pass-share": { type: "string" },
      "repeat-share": { type: "string" },
      seed: { type: "string" },
      keepalive: { type: "string" },
      "health-period": { type: "string" },
      sync: { type: "string" },
      "log-level": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (values.doors === undefined) throw new CliError("sim: --doors N is required (see qrgate sim --help)");
  const doors = num("doors", values.doors, 0, 1, 100_000, true);
  const sync = values.sync ?? "normal";
  if (sync !== "full" && sync !== "normal") throw new CliError(`sim: --sync: expected full or normal, got '${printable(sync)}'`);
  const level = values["log-level"] ?? "warn";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(level)) {
    throw new CliError(`sim: --log-level '${printable(level)}': expected trace, debug, info, warn, error or silent`);
  }
  const durationMs = num("duration", values.duration, 60, 1, 86_400) * 1000;
  const keepalive = values.keepalive === undefined ? undefined : num("keepalive", values.keepalive, 0, 1, 3600, true);
  const workers = values.workers === undefined ? undefined : num("workers", values.workers, 0, 1, 256, true);
  const t0 = performance.now();
  const every = (ms: number): number => (ms < 60_000 ? 1000 : 10_000);
  let lastShown = -Infinity;
  // Ctrl-C ends the traffic early; the gates still drain and the summary is printed. A second one quits.
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write("sim: stopping the traffic; draining the outboxes (Ctrl-C again to quit now)\n");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const result = await runFleet({
    signal: abort.signal,
    doors,
    ratePerDoor: num("rate", values.rate, 0.5, 0, 1000),
    durationMs,
    peak: num("peak", values.peak, 1.5, 1, MAX_PEAK),
    url: values.url ?? "mqtt://127.0.0.1:1883",
    ...(values.root !== undefined ? { root: values.root } : {}),
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
    ...(workers !== undefined ? { workers } : {}),
    doorsPerSite: num("doors-per-site", values["doors-per-site"], 10, 1, 1000, true),
    peoplePerDoor: num("people-per-door", values["people-per-door"], 40, 1, 10_000, true),
    mix: {
      ...DEFAULT_MIX,
      passShare: num("pass-share", values["pass-share"], DEFAULT_MIX.passShare, 0, 1),
      repeatShare: num("repeat-share", values["repeat-share"], DEFAULT_MIX.repeatShare, 0, 1),
    },
    seed: num("seed", values.seed, 1, 0, 2 ** 32 - 1, true),
    ...(keepalive !== undefined ? { keepaliveS: keepalive } : {}),
    healthPeriodS: num("health-period", values["health-period"], 30, 1, 3600, true),
    synchronous: sync === "full" ? "FULL" : "NORMAL",
    logLevel: level,
    onReady: (r) =>
      process.stderr.write(
        `sim: ${r.gates} gates started in ${(r.startMs / 1000).toFixed(1)} s (${(r.rssPerGateBytes / 1024).toFixed(0)} KiB resident per gate); traffic for ${durationMs / 1000} s\n`,
      ),
    onProgress: (p) => {
      if (p.elapsedMs - lastShown < every(p.elapsedMs)) return;
      lastShown = p.elapsedMs;
      process.stderr.write(
        `sim: ${(p.elapsedMs / 1000).toFixed(0).padStart(5)} s  scans ${p.scans}  entries ${p.entries}  connected ${p.connected}/${doors}  outbox ${p.outboxRows}  reconnects ${p.reconnects}${p.behind > 0 ? `  behind ${p.behind} scans` : ""}\n`,
      );
    },
  });
  if (values.json) process.stdout.write(JSON.stringify({ ...result, wallMs: Math.round(performance.now() - t0) }) + "\n");
  else process.stdout.write(summary(result) + "\n");
  return result.outboxRows === 0 ? 0 : 1;
}
