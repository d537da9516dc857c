/**
 * Status sync bench (part of `npm run bench`): `qrgate status publish` of a 1,000,000-row snapshot to a local
 * Mosquitto, applied by a running gate (GateApp, real SQLite file) while it keeps scanning. Prints the publish time,
 * the apply rate, scan latency idle and during the apply (including the wait for the event loop), the gate process's
 * RSS during the apply, and a 10,000-row delta end to end. Figures, not assertions.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import type { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import type { ScanOutcome } from "../../src/gate.js";
import { generateIssuerKeyPair, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { startBroker } from "../support/mosquitto.js";

const ROWS = 1_000_000;
const DELTA_ROWS = 10_000;
const SCAN_EVERY_MS = 5;
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const idOf = (n: number): string => `0010${String(n).padStart(8, "0")}`;
const CARD = (id: string): string => `${id}|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021`;

function pct(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function writeCsv(path: string, rows: number, status: (n: number) => string): Promise<void> {
  const out = createWriteStream(path);
  out.write("id,status,doses,last_dose,recovered_on,dob,zone,flags\n");
  let buf = "";
  for (let n = 0; n < rows; n++) {
    buf += `${idOf(n)},${status(n)},2,2021-09-01,,,green,\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once("drain", () => r()));
      buf = "";
    }
  }
  out.write(buf);
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Scans every SCAN_EVERY_MS; each latency counts from when the scan was due (event-loop wait included). */
class Scanner {
  readonly latencies: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(private readonly app: GateApp) {}

  start(): void {
    const due = performance.now() + SCAN_EVERY_MS;
    this.timer = setTimeout(() => {
      let outcome: ScanOutcome | null = null;
      const listener = (o: ScanOutcome): void => {
        outcome = o;
      };
      this.app.gate.onOutcome(listener);
      (this.app.scanner as SimScanner).emit(CARD(idOf((this.n++ * 7919) % ROWS)));
      if (outcome !== null) this.latencies.push(performance.now() - due);
      this.start();
    }, SCAN_EVERY_MS);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-sync-bench-"));
  const broker = await startBroker({ persistence: false });
  const centre = await writeIssuerKeyFiles(join(dir, "centre"), generateIssuerKeyPair("EdDSA", "centre"));
  const config = validateConfig(
    {
      site: "bench",
      device: "gate-1",
      scanner: { type: "sim" },
      relay: { type: "sim", pulseMs: 100 },
      mqtt: { url: broker.url },
      store: { path: join(dir, "gate.db") },
      centre: { publicKey: centre.jwksPath },
      dedupMs: 0,
    },
    "bench",
  );
  const app = new GateApp(config, pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true })));
  await app.start();
  // The gate's listeners pile up one per scan in this bench; keep only a handful.
  const listeners = (app.gate as unknown as { listeners: unknown[] }).listeners;

  process.stdout.write(`writing a ${ROWS.toLocaleString("en")}-row CSV… `);
  await writeCsv(join(dir, "all.csv"), ROWS, (n) => (n % 10 === 6 ? "f0" : "clear"));
  process.stdout.write("done\n");

  const idle = new Scanner(app);
  idle.start();
  await new Promise((r) => setTimeout(r, 2000));
  idle.stop();
  listeners.splice(0);

  let swappedAt = 0;
  let cpuAtSwap = process.cpuUsage();
  app.feeds?.status.onApplied(() => {
    swappedAt = performance.now();
    cpuAtSwap = process.cpuUsage();
  });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssMax = 0;
  let heapMax = 0;
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    rssMax = Math.max(rssMax, m.rss);
    heapMax = Math.max(heapMax, m.heapUsed);
  }, 50);
  const during = new Scanner(app);
  const args = ["--url", broker.url, "--key", centre.privateKeyPath, "--site", "bench"];
  const t0 = performance.now();
  during.start();
  const pub = await runCli(["status", "publish", join(dir, "all.csv"), ...args]);
  const published = performance.now();
  const cpuAtPublished = process.cpuUsage();
  if (pub.code !== 0) throw new Error(`status publish failed: ${pub.stderr}`);
  while (app.status.meta().rows !== ROWS) await new Promise((r) => setTimeout(r, 20));
  during.stop();
  listeners.splice(0);
  clearInterval(rssTimer);
  const applyS = (swappedAt - published) / 1000;
  // CPU time the gate process spent meanwhile (applying, and scanning every 5 ms): on a shared, loaded machine the
  // wall-clock rate says more about the other processes than about the gate.
  const applyCpuS = (cpuAtSwap.user + cpuAtSwap.system - cpuAtPublished.user - cpuAtPublished.system) / 1e6;

  // A 10,000-row delta, from the command to the gate's table.
  const dl: string[] = ["id,status,doses,last_dose,recovered_on,dob,zone,flags"];
  for (let n = 0; n < DELTA_ROWS; n++) dl.push(`${idOf(n * 97)},blocked,2,2021-09-01,,,green,`);
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "delta.csv"), dl.join("\n") + "\n");
  const before = app.status.meta().version;
  const d0 = performance.now();
  const dpub = await runCli(["status", "publish", join(dir, "delta.csv"), ...args, "--delta"]);
  if (dpub.code !== 0) throw new Error(`delta publish failed: ${dpub.stderr}`);
  while (app.status.meta().version === before) await new Promise((r) => setTimeout(r, 5));
  const deltaMs = performance.now() - d0;

  const f = (n: number): string => n.toFixed(2);
  process.stdout.write(
    [
      `snapshot: ${ROWS.toLocaleString("en")} rows`,
      `  publish (qrgate status publish, CLI start to exit)   ${f((published - t0) / 1000)} s   ${pub.stdout.trim()}`,
      `  apply (manifest published -> swapped in)              ${f(applyS)} s = ${Math.round(ROWS / applyS).toLocaleString("en")} rows/s wall clock`,
      `  gate CPU time meanwhile                               ${f(applyCpuS)} s = ${Math.round(ROWS / applyCpuS).toLocaleString("en")} rows per CPU second`,
      `  scan latency idle           p50 ${f(pct(idle.latencies, 50))}  p99 ${f(pct(idle.latencies, 99))}  max ${f(Math.max(...idle.latencies))} ms (${idle.latencies.length} scans)`,
      `  scan latency during publish+apply  p50 ${f(pct(during.latencies, 50))}  p99 ${f(pct(during.latencies, 99))}  max ${f(Math.max(...during.latencies))} ms (${during.latencies.length} scans)`,
      `  gate process RSS during the apply, max                ${(rssMax / 2 ** 20).toFixed(0)} MB (before: ${(rssBefore / 2 ** 20).toFixed(0)} MB; JS heap used max ${(heapMax / 2 ** 20).toFixed(0)} MB)`,
      `  (load average at the end: ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")} on ${(await import("node:os")).cpus().length} CPUs)`,
      `delta: ${DELTA_ROWS.toLocaleString("en")} rows, qrgate status publish --delta start -> applied by the gate: ${deltaMs.toFixed(0)} ms`,
      "",
    ].join("\n"),
  );
  await app.stop();
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
