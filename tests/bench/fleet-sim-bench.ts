/**
 * Fleet simulation bench (issue 16, item 4): `node dist/tests/bench/fleet-sim-bench.js` (second step of
 * `npm run bench:fleet`).
 *
 * Starts its own Mosquitto (free port, `max_queued_messages 0`), one real collector (`qrgate collect`, a child
 * process) into PostgreSQL (a fresh schema) or SQLite, and the fleet simulator (src/sim/fleet-runner.ts: real
 * gates, one SQLite store and one MQTT connection each, in worker processes). At the end it reports entries
 * produced (the gates' journals), stored at the centre (distinct ids), lost, stored twice, entry lag (scan to row
 * visible, sampled; and scan to the collector's receipt, every row), and CPU and RSS of the simulator and the
 * collector. Figures, not assertions.
 *
 * Environment: DOORS (default 5000), RATE (mean scans/s per door, default 0.5), DURATION (s, default 600),
 * PEAK (morning peak-to-mean, default 1.5), DB (postgres | sqlite, default postgres), WORKERS (default: one per
 * 1,250 doors), SYNC (normal | full, default normal), KEEPALIVE (the gates' MQTT keepalive, s, default 30),
 * QRGATE_BENCH_PG_URL (default postgres://root@127.0.0.1:5432/test).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { LATE_MS, runFleet, type FleetResult } from "../../src/sim/fleet-runner.js";
import type { Sample } from "../../src/sim/fleet-messages.js";
import { startBroker } from "../support/mosquitto.js";

const env = (k: string, d: number): number => (process.env[k] !== undefined && process.env[k] !== "" ? Number(process.env[k]) : d);
const DOORS = env("DOORS", 5000);
const RATE = env("RATE", 0.5);
const DURATION_S = env("DURATION", 600);
const PEAK = env("PEAK", 1.5);
const DB_KIND = process.env.DB === "sqlite" ? "sqlite" : "postgres";
const WORKERS = process.env.WORKERS !== undefined ? env("WORKERS", 1) : undefined;
const SYNC = process.env.SYNC === "full" ? "FULL" : "NORMAL";
const KEEPALIVE = process.env.KEEPALIVE !== undefined && process.env.KEEPALIVE !== "" ? env("KEEPALIVE", 30) : undefined;
const PG_URL = process.env.QRGATE_BENCH_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
/** How often the centre is asked which sampled entries it has: the visible lag is known to within this (plus the query). */
const POLL_MS = 50;
/** Lag samples wanted per second, whatever the fleet's rate. */
const SAMPLES_PER_S = 200;
/** After the gates are drained, how long the centre may go without storing anything before the count is final. */
const SETTLE_QUIET_MS = 30_000;

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const TICK_HZ = 100; // USER_HZ: /proc's CPU times are in these ticks on Linux

function log(line: string): void {
  process.stdout.write(line + "\n");
}

/** CPU seconds (user + system) and resident bytes of a process, from /proc; null once it is gone. */
function procUsage(pid: number): { cpuS: number; rssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuS = (Number(fields[11]) + Number(fields[12])) / TICK_HZ;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuS, rssBytes: rssKb * 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds between marks and the largest RSS seen, over a set of processes. */
class Usage {
  private readonly start = new Map<number, number>();
  private readonly last = new Map<number, number>();
  peakRss = 0;

  constructor(private readonly pids: () => readonly number[]) {}

  mark(): void {
    for (const pid of this.pids()) {
      const u = procUsage(pid);
      if (u !== null) this.start.set(pid, u.cpuS);
    }
  }

  sample(): void {
    let rss = 0;
    for (const pid of this.pids()) {
      const u = procUsage(pid);
      if (u === null) continue;
      this.last.set(pid, u.cpuS);
      rss += u.rssBytes;
    }
    this.peakRss = Math.max(this.peakRss, rss);
  }

  cpuS(): number {
    let s = 0;
    for (const [pid, cpu] of this.last) s += cpu - (this.start.get(pid) ?? cpu);
    return s;
  }
}

/** What the bench asks of the centre's database, read-only. */
interface Centre {
  visible(ids: readonly string[]): Promise<string[]>;
  counts(): Promise<{ rows: number; distinct: number }>;
  byDevice(): Promise<Map<string, number>>;
  /** Percentiles of received_ms - ts_ms over every row (scan to the collector's receipt). */
  receiptLag(): Promise<{ p50: number; p99: number }>;
  close(): Promise<void>;
}

function postgresCentre(url: string, schema: string): Centre {
  const pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
  return {
    async visible(ids) {
      if (ids.length === 0) return [];
      // The parameter is untyped, so the id column's own type (text or uuid) is used and its index with it.
      const r = await pool.query<{ id: string }>("SELECT id::text AS id FROM entries WHERE id = ANY($1)", [ids]);
      return r.rows.map((x) => x.id);
    },
    async counts() {
      const r = await pool.query<{ rows: string; d: string }>("SELECT count(*) AS rows, count(DISTINCT id) AS d FROM entries");
      return { rows: Number(r.rows[0]?.rows ?? 0), distinct: Number(r.rows[0]?.d ?? 0) };
    },
    async byDevice() {
      const r = await pool.query<{ k: string; n: string }>("SELECT site || '/' || device AS k, count(DISTINCT id) AS n FROM entries GROUP BY 1");
      return new Map(r.rows.map((x) => [x.k, Number(x.n)]));
    },
    async receiptLag() {
      const r = await pool.query<{ p: number[] | null }>(
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY received_ms - ts_ms) AS p FROM entries",
      );
      const p = r.rows[0]?.p ?? [NaN, NaN];
      return { p50: Number(p[0]), p99: Number(p[1]) };
    },
    close: () => pool.end(),
  };
}

function sqliteCentre(path: string): Centre {
  let db: Database.Database | null = null;
  // The collector creates the file; open it on first use.
  const open = (): Database.Database => (db ??= new Database(path, { readonly: true, fileMustExist: true }));
  return {
    visible(ids) {
      if (ids.length === 0) return Promise.resolve([]);
      const rows = open().prepare("SELECT id FROM entries WHERE id IN (SELECT value FROM json_each(?))").all(JSON.stringify(ids)) as Array<{ id: string }>;
      return Promise.resolve(rows.map((r) => r.id));
    },
    counts() {
      const r = open().prepare("SELECT count(*) AS rows, count(DISTINCT id) AS d FROM entries").get() as { rows: number; d: number };
      return Promise.resolve({ rows: r.rows, distinct: r.d });
    },
    byDevice() {
      const rows = open().prepare("SELECT site || '/' || device AS k, count(DISTINCT id) AS n FROM entries GROUP BY 1").all() as Array<{ k: string; n: number }>;
      return Promise.resolve(new Map(rows.map((r) => [r.k, r.n])));
    },
    receiptLag() {
      const d = open();
      const n = (d.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n;
      const at = (q: number): number =>
        (d.prepare("SELECT received_ms - ts_ms AS v FROM entries ORDER BY v LIMIT 1 OFFSET ?").get(Math.max(0, Math.ceil(q * n) - 1)) as { v: number } | undefined)?.v ?? NaN;
      return Promise.resolve({ p50: at(0.5), p99: at(0.99) });
    },
    close() {
      db?.close();
      return Promise.resolve();
    },
  };
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Starts `qrgate collect` and resolves once it says it is collecting. */
async function startCollector(url: string, db: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "collect", "--url", url, "--db", db, "--group", "fleetbench", "--client-id", `fleet-bench-${process.pid}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer): void => {
      buf += d.toString("utf8");
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        if (l.includes('"collecting"')) {
          resolve();
        } else if (/"level":(50|60)/.test(l)) process.stderr.write(`collector: ${l}\n`);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`qrgate collect exited ${code} at start`)));
  });
  // From here on only its errors are shown.
  child.stderr?.removeAllListeners("data");
  child.stderr?.on("data", (d: Buffer) => {
    for (const l of d.toString("utf8").split("\n")) if (/"level":(50|60)/.test(l)) process.stderr.write(`collector: ${l}\n`);
  });
  return child;
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-fleet-bench-"));
  const schema = `qrgate_fleet_${process.pid}`;
  const broker = await startBroker({ persistence: false, extra: ["max_connections -1"] });
  const pgAdmin = DB_KIND === "postgres" ? new pg.Client({ connectionString: PG_URL }) : null;
  let collector: ChildProcess | null = null;
  let centre: Centre | null = null;
  let poll: NodeJS.Timeout | undefined;
  const figures: Record<string, number | string | boolean> = { doors: DOORS, rate_per_door: RATE, offered_per_s: DOORS * RATE, duration_s: DURATION_S, peak: PEAK, db: DB_KIND, sync: SYNC };
  try {
    let dbArg: string;
    if (pgAdmin !== null) {
      await pgAdmin.connect();
      await pgAdmin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      const u = new URL(PG_URL);
      u.searchParams.set("schema", schema);
      dbArg = u.toString();
      centre = postgresCentre(PG_URL, schema);
    } else {
      dbArg = join(dir, "centre.db");
      centre = sqliteCentre(dbArg);
    }
    log(`fleet sim bench: ${DOORS} doors x ${RATE} scans/s (${DOORS * RATE}/s mean, peak x${PEAK}) for ${DURATION_S} s -> Mosquitto -> qrgate collect -> ${DB_KIND}`);
    collector = await startCollector(broker.url, dbArg);
    const collectorPid = collector.pid ?? 0;

    const pending = new Map<string, number>();
    const lags: number[] = [];
    let workerPids: readonly number[] = [];
    const simUsage = new Usage(() => workerPids);
    const collectorUsage = new Usage(() => [collectorPid]);
    let polling = false;
    const c = centre;
    poll = setInterval(() => {
      simUsage.sample();
      collectorUsage.sample();
      if (polling || pending.size === 0) return;
      polling = true;
      const ids = [...pending.keys()].slice(0, 5000);
      c.visible(ids)
        .then((seen) => {
          const now = Date.now();
          for (const id of seen) {
            const ts = pending.get(id);
            if (ts === undefined) continue;
            lags.push(now - ts);
            pending.delete(id);
          }
        })
        .catch(() => undefined) // the table may not exist for a moment; the next poll asks again
        .finally(() => (polling = false));
    }, POLL_MS);

    let tRun = Date.now();
    let result: FleetResult;
    try {
      result = await runFleet({
        doors: DOORS,
        ratePerDoor: RATE,
        durationMs: DURATION_S * 1000,
        peak: PEAK,
        url: broker.url,
        dir: join(dir, "doors"),
        synchronous: SYNC,
        ...(WORKERS !== undefined ? { workers: WORKERS } : {}),
        ...(KEEPALIVE !== undefined ? { keepaliveS: KEEPALIVE } : {}),
        sampleEvery: Math.max(1, Math.round((DOORS * RATE) / SAMPLES_PER_S)),
        onReady: (r) => {
          workerPids = r.workerPids;
          tRun = Date.now();
          simUsage.mark();
          collectorUsage.mark();
          log(`${r.gates} gates started in ${(r.startMs / 1000).toFixed(1)} s: ${(r.rssPerGateBytes / 1024).toFixed(0)} KiB resident per gate (${((r.rssPerGateBytes * 100) / 1048576).toFixed(1)} MiB per 100 gates)`);
          figures.gates_start_s = Math.round(r.startMs / 100) / 10;
          figures.rss_per_100_gates_mib = Math.round((r.rssPerGateBytes * 100) / 104857.6) / 10;
        },
        onSamples: (s: readonly Sample[]) => {
          for (const x of s) pending.set(x.id, x.tsMs);
        },
        onProgress: (p) => {
          const s = Math.round(p.elapsedMs / 1000);
          if (s % 10 === 0 || p.elapsedMs < 5000) {
            log(`  ${String(s).padStart(4)} s  scans ${p.scans}  entries ${p.entries}  connected ${p.connected}/${DOORS}  outbox ${p.outboxRows}  reconnects ${p.reconnects}  behind ${p.behind}  lag samples ${lags.length} (${pending.size} pending)`);
          }
        },
      });
    } finally {
      simUsage.sample();
    }
    const trafficS = (Date.now() - tRun) / 1000;

    // The gates are drained (every entry has its PUBACK): wait for the centre to store what the broker holds.
    let last = -1;
    let quietSince = Date.now();
    for (;;) {
      const { distinct } = await centre.counts();
      collectorUsage.sample();
      if (distinct >= result.entries) break;
      if (distinct !== last) {
        last = distinct;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > SETTLE_QUIET_MS) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const settledS = (Date.now() - tRun) / 1000;
    // Samples still pending now were stored at the latest now (or never): the poll gets one more chance.
    for (let i = 0; i < 40 && pending.size > 0; i++) await new Promise((r) => setTimeout(r, POLL_MS));
    clearInterval(poll);
    collectorUsage.sample();

    const counts = await centre.counts();
    const byDevice = await centre.byDevice();
    const short: string[] = [];
    for (const [k, n] of Object.entries(result.journal)) {
      const got = byDevice.get(k) ?? 0;
      if (got !== n) short.push(`${k}: journal ${n}, centre ${got}`);
    }
    const receipt = await centre.receiptLag();
    lags.sort((a, b) => a - b);
    const lost = result.entries - counts.distinct;
    Object.assign(figures, {
      gates: result.ready.gates,
      workers: result.workers,
      scans: result.scans,
      produced: result.entries,
      stored_distinct: counts.distinct,
      lost,
      stored_twice: counts.rows - counts.distinct,
      outbox_left: result.outboxRows,
      reconnects: result.reconnects,
      sim_loop_delay_p99_ms: Math.round(result.loopDelayP99Ms),
      sim_loop_delay_max_ms: Math.round(result.loopDelayMaxMs),
      sim_behind_max_scans: result.behindMax,
      sim_late_s: Math.round(result.lateMs / 100) / 10,
      // Over the time the scans were actually made: longer than DURATION when the simulator fell behind.
      produced_per_s: Math.round(result.entries / (DURATION_S + result.lateMs / 1000 || 1)),
      lag_visible_p50_ms: pct(lags, 50),
      lag_visible_p99_ms: pct(lags, 99),
      lag_visible_max_ms: lags.length > 0 ? lags[lags.length - 1]! : NaN,
      lag_samples: lags.length,
      lag_samples_unseen: pending.size,
      lag_receipt_p50_ms: Math.round(receipt.p50),
      lag_receipt_p99_ms: Math.round(receipt.p99),
      sim_cpu_cores: Math.round((simUsage.cpuS() / trafficS) * 100) / 100,
      sim_rss_mib: Math.round(simUsage.peakRss / 1048576),
      collector_cpu_cores: Math.round((collectorUsage.cpuS() / settledS) * 100) / 100,
      collector_rss_mib: Math.round(collectorUsage.peakRss / 1048576),
      drain_after_traffic_s: Math.round((settledS - DURATION_S) * 10) / 10,
    });
    const reasons = Object.entries(result.reasons)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    log("");
    log(`scans ${result.scans}: ${reasons}`);
    log(`entries produced (gates' journals) ${result.entries}, stored at the centre ${counts.distinct} (rows ${counts.rows}): lost ${lost}, stored twice ${counts.rows - counts.distinct}`);
    if (short.length > 0) log(`doors short at the centre (${short.length}): ${short.slice(0, 5).join("; ")}${short.length > 5 ? "; …" : ""}`);
    log(
      `entry lag, scan -> row visible (${lags.length} samples, ${pending.size} never seen): p50 ${figures.lag_visible_p50_ms} ms, p99 ${figures.lag_visible_p99_ms} ms, max ${figures.lag_visible_max_ms} ms`,
    );
    log(`entry lag, scan -> collector receipt (every row): p50 ${figures.lag_receipt_p50_ms} ms, p99 ${figures.lag_receipt_p99_ms} ms`);
    log(`gates reconnected ${result.reconnects} times; simulator event loop delay p99 ${figures.sim_loop_delay_p99_ms} ms, max ${figures.sim_loop_delay_max_ms} ms`);
    log(
      result.lateMs > LATE_MS
        ? `the simulator fell behind the rate asked: up to ${result.behindMax} scans due in a worker, the last made ${figures.sim_late_s} s after the end (offered rate not met: read the figures as the simulator's limit)`
        : "the simulator kept up with the rate asked",
    );
    log(`simulator: ${figures.sim_cpu_cores} cores on average, peak RSS ${figures.sim_rss_mib} MiB (${result.workers} workers); collector: ${figures.collector_cpu_cores} cores, peak RSS ${figures.collector_rss_mib} MiB`);
    log(`figures ${JSON.stringify(figures)}`);
  } finally {
    clearInterval(poll);
    if (collector !== null && collector.exitCode === null) {
      const exited = new Promise((r) => collector?.once("exit", r));
      collector.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (collector.exitCode === null) collector.kill("SIGKILL");
    }
    await centre?.close();
    if (pgAdmin !== null) {
      await pgAdmin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await pgAdmin.end();
    }
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`fleet sim bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
