/**
 * Live ingest bench (issue 16, item 1): `npm run bench:ingest` (and first step of `npm run bench:fleet`).
 *
 * For each offered rate and each consumer, on a fresh Mosquitto (free port, `max_queued_messages 0`, persistence
 * off: the queue of a slow consumer lives in the broker's memory, as it would between restarts), 1,000 paced
 * MQTT publishers (paced-publisher.ts, spread over a few processes) publish entries in the contract's format at
 * QoS 1 for BENCH_SECONDS. Consumers:
 *   - `sub`: bare `mosquitto_sub` on the same shared subscription at QoS 1 (the floor: the broker's pace);
 *   - `postgres`: the collector (ingest-collector.ts, a process of its own) into a fresh schema of PostgreSQL;
 *   - `sqlite`: the collector into a fresh SQLite file on disk (`synchronous=FULL`).
 * Per point: achieved rate (distinct entries stored / time from the first publish to the last commit), lag
 * p50/p99 (publish to row committed; for `sub`, to the line read), lost (acknowledged to a publisher, never
 * stored), stored twice, consumer CPU per entry and peak RSS. Figures, not assertions.
 *
 * Environment: BENCH_RATES (default 10000,20000,30000), BENCH_SECONDS (default 60), BENCH_TARGETS (default
 * sub,postgres,sqlite), BENCH_PUBLISHERS (default 1000), BENCH_PROCS (publisher processes, default 4),
 * BENCH_CPU_PROF (a directory: the collector runs with `--cpu-prof` into it), QRGATE_BENCH_PG_URL (default
 * postgres://root@127.0.0.1:5432/test), BENCH_DIR (SQLite files, default the system's temporary directory: it must be a real disk, not a tmpfs, for
 * the fsyncs to count).
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import mqtt from "mqtt";
import pg from "pg";
import { startBroker, type TestBroker } from "../support/mosquitto.js";

const list = (k: string, d: string): string[] =>
  (process.env[k] ?? d)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
const num = (k: string, d: number): number => (process.env[k] !== undefined && process.env[k] !== "" ? Number(process.env[k]) : d);
const RATES = list("BENCH_RATES", "10000,20000,30000").map(Number);
const SECONDS = num("BENCH_SECONDS", 60);
const TARGETS = list("BENCH_TARGETS", "sub,postgres,sqlite");
const PUBLISHERS = num("BENCH_PUBLISHERS", 1000);
const PROCS = num("BENCH_PROCS", 4);
const PG_URL = process.env.QRGATE_BENCH_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
/** After the publishers stop: the consumer is given this long without progress before the count is final. */
const QUIET_MS = 15_000;
const TICK_HZ = 100;
const HERE = fileURLToPath(new URL(".", import.meta.url));

function log(line: string): void {
  process.stdout.write(line + "\n");
}

interface PointResult {
  readonly target: string;
  readonly offered: number;
  readonly sent: number;
  readonly acked: number;
  readonly stored: number;
  readonly storedTwice: number;
  readonly redelivered: number;
  readonly seconds: number;
  readonly lagP50: number;
  readonly lagP99: number;
  readonly lagMax: number;
  readonly cpuUsPerEntry: number;
  readonly peakRssMb: number;
  readonly publisherLateMs: number;
  /** CPU of all publisher processes per entry sent, us: what the fleet's side costs this machine. */
  readonly publisherCpuUs: number;
  readonly load: string;
  readonly note: string;
}

function percentile(hist: readonly (readonly [number, number])[], p: number): number {
  const total = hist.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return NaN;
  const want = Math.ceil(total * p);
  let seen = 0;
  for (const [ms, n] of hist) {
    seen += n;
    if (seen >= want) return ms;
  }
  return hist[hist.length - 1]![0];
}

function procCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) / TICK_HZ) * 1e6;
}

function procPeakRssKb(pid: number): number {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]);
}

function once<T>(child: ChildProcess, pick: (m: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Record<string, unknown>): void => {
      if (pick(m)) {
        child.off("message", onMsg);
        child.off("exit", onExit);
        resolve(m as T);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`child ${child.pid} exited (${code})`));
    child.on("message", onMsg);
    child.once("exit", onExit);
  });
}

/** The consumer under test, behind one face. */
interface Consumer {
  readonly pid: number;
  /** Entries stored (distinct, as far as the consumer knows) and when the last one was. */
  progress(): { stored: number; lastMs: number };
  mark(): Promise<void>;
  finish(): Promise<{ stored: number; storedTwice: number; redelivered: number; hist: [number, number][]; cpuUs: number; peakRssKb: number; lastMs: number; note: string }>;
}

async function subConsumer(broker: TestBroker): Promise<Consumer> {
  const child = spawn(
    "mosquitto_sub",
    ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-q", "1", "-i", "bench-sub", "-F", "%p", "-t", "$share/bench/qrgate/v1/+/+/entry"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const seen = new Set<string>();
  let twice = 0;
  let lastMs = 0;
  let probeSeen = false;
  const hist = new Map<number, number>();
  let buf = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    const now = Date.now();
    buf += d;
    let at = 0;
    for (;;) {
      const nl = buf.indexOf("\n", at);
      if (nl < 0) break;
      const line = buf.slice(at, nl);
      at = nl + 1;
      if (line === "probe") {
        probeSeen = true;
        continue;
      }
      const i = line.indexOf('"id":"');
      const t = line.indexOf('"ts":"');
      if (i < 0 || t < 0) continue;
      const id = line.slice(i + 6, i + 42);
      if (seen.has(id)) twice += 1;
      else seen.add(id);
      const lag = Math.max(0, now - Date.parse(line.slice(t + 6, t + 30)));
      hist.set(lag, (hist.get(lag) ?? 0) + 1);
      lastMs = now;
    }
    buf = buf.slice(at);
  });
  // Subscribed once a probe published after it comes back.
  const probe = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "bench-probe" });
  while (!probeSeen) {
    await probe.publishAsync("qrgate/v1/probe/probe/entry", "probe", { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
  }
  await probe.endAsync();
  const pid = child.pid!;
  let cpu0 = 0;
  return {
    pid,
    progress: () => ({ stored: seen.size, lastMs }),
    mark() {
      cpu0 = procCpuUs(pid);
      hist.clear();
      return Promise.resolve();
    },
    async finish() {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      const cpuUs = procCpuUs(pid) - cpu0;
      const peakRssKb = procPeakRssKb(pid);
      child.kill("SIGTERM");
      await exited;
      return {
        stored: seen.size,
        storedTwice: 0,
        redelivered: twice,
        hist: [...hist.entries()].sort((a, b) => a[0] - b[0]),
        cpuUs,
        peakRssKb,
        lastMs,
        note: "",
      };
    },
  };
}

async function collectorConsumer(broker: TestBroker, target: "postgres" | "sqlite"): Promise<Consumer> {
  const schema = `bench_ingest_${randomBytes(4).toString("hex")}`;
  let db: string;
  let dir: string | null = null;
  if (target === "postgres") {
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    db = u.toString();
  } else {
    dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "qrgate-bench-ingest-"));
    db = join(dir, "centre.db");
  }
  const prof = process.env.BENCH_CPU_PROF;
  const child = fork(join(HERE, "ingest-collector.js"), [], {
    env: { ...process.env, ING_URL: broker.url, ING_DB: db },
    execArgv: prof !== undefined && prof !== "" ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let stored = 0;
  let lastMs = 0;
  child.on("message", (m: { progress?: boolean; stored: number; lastCommitMs: number }) => {
    if (m.progress === true) {
      stored = m.stored;
      lastMs = m.lastCommitMs;
    }
  });
  await once(child, (m) => m.ready === true);
  return {
    pid: child.pid!,
    progress: () => ({ stored, lastMs }),
    async mark() {
      const marked = once(child, (m) => m.marked === true);
      child.send({ mark: true });
      await marked;
    },
    async finish() {
      const fin = once<{ stored: number; duplicate: number; cpuUs: number; maxRssKb: number; lastCommitMs: number; hist: [number, number][]; batches: number; maxBatch: number; pauses: number; heldPeak: number; loopMaxMs: number; loopP99Ms: number }>(
        child,
        (m) => m.final === true,
      );
      child.send({ stop: true });
      const f = await fin;
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once("exit", () => r())));
      // Rows as the database has them: distinct ids against rows (a key (id, ts_ms) in PostgreSQL, id in SQLite).
      let rows = 0;
      let distinct = 0;
      if (target === "postgres") {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        const r = await c.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${schema}.entries`);
        rows = Number(r.rows[0]!.n);
        distinct = Number(r.rows[0]!.d);
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
        await c.end();
      } else {
        const d = new Database(db, { readonly: true });
        const r = d.prepare("SELECT count(*) AS n, count(DISTINCT id) AS d FROM entries").get() as { n: number; d: number };
        rows = r.n;
        distinct = r.d;
        d.close();
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
      }
      return {
        stored: distinct,
        storedTwice: rows - distinct,
        redelivered: f.duplicate,
        hist: f.hist,
        cpuUs: f.cpuUs,
        peakRssKb: f.maxRssKb,
        lastMs: f.lastCommitMs,
        note: `batches ${f.batches}, largest ${f.maxBatch}, held at most ${f.heldPeak}, pauses ${f.pauses}, event loop delay p99 ${f.loopP99Ms.toFixed(0)} ms max ${f.loopMaxMs.toFixed(0)} ms`,
      };
    },
  };
}

async function startPublishers(broker: TestBroker, rate: number): Promise<ChildProcess[]> {
  const procs: ChildProcess[] = [];
  for (let p = 0; p < PROCS; p++) {
    const clients = Math.floor(PUBLISHERS / PROCS) + (p < PUBLISHERS % PROCS ? 1 : 0);
    procs.push(
      fork(join(HERE, "paced-publisher.js"), [], {
        env: { ...process.env, PUB_URL: broker.url, PUB_CLIENTS: String(clients), PUB_RATE: String((rate * clients) / PUBLISHERS), PUB_PROC: String(p) },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
  }
  await Promise.all(procs.map((c) => once(c, (m) => m.ready === true)));
  return procs;
}

async function point(target: string, rate: number): Promise<PointResult> {
  const broker = await startBroker({ persistence: false });
  try {
    const consumer = target === "sub" ? await subConsumer(broker) : await collectorConsumer(broker, target === "sqlite" ? "sqlite" : "postgres");
    const pubs = await startPublishers(broker, rate);
    await consumer.mark();
    const goMs = Date.now() + 500;
    const done = pubs.map((c) => once<{ sent: number; acked: number; failed: number; lateMs: number; cpuUs: number }>(c, (m) => m.done === true));
    for (const c of pubs) c.send({ go: goMs, seconds: SECONDS });
    const results = await Promise.all(done);
    const sent = results.reduce((a, r) => a + r.sent, 0);
    const acked = results.reduce((a, r) => a + r.acked, 0);
    const lateMs = Math.max(...results.map((r) => r.lateMs));
    const pubCpuUs = results.reduce((a, r) => a + r.cpuUs, 0);
    const load = loadavg()
      .map((x) => x.toFixed(2))
      .join(" ");
    // Drain: until everything acknowledged is stored, or nothing moved for QUIET_MS.
    let last = consumer.progress().stored;
    let lastChange = Date.now();
    while (consumer.progress().stored < acked && Date.now() - lastChange < QUIET_MS) {
      await new Promise((r) => setTimeout(r, 100));
      const s = consumer.progress().stored;
      if (s !== last) {
        last = s;
        lastChange = Date.now();
      }
    }
    const f = await consumer.finish();
    const seconds = Math.max(SECONDS, (f.lastMs - goMs) / 1000);
    return {
      target,
      offered: rate,
      sent,
      acked,
      stored: f.stored,
      storedTwice: f.storedTwice,
      redelivered: f.redelivered,
      seconds,
      lagP50: percentile(f.hist, 0.5),
      lagP99: percentile(f.hist, 0.99),
      lagMax: f.hist.length > 0 ? f.hist[f.hist.length - 1]![0] : NaN,
      cpuUsPerEntry: f.cpuUs / Math.max(1, f.stored),
      peakRssMb: f.peakRssKb / 1024,
      publisherLateMs: lateMs,
      publisherCpuUs: pubCpuUs / Math.max(1, sent),
      load,
      note: f.note,
    };
  } finally {
    await broker.dispose();
  }
}

function row(r: PointResult): string {
  const lost = Math.max(0, r.acked - r.stored);
  return [
    r.target.padEnd(8),
    String(r.offered).padStart(7),
    String(Math.round(r.stored / r.seconds)).padStart(8),
    `${r.lagP50}`.padStart(7),
    `${r.lagP99}`.padStart(7),
    `${r.lagMax}`.padStart(7),
    String(lost).padStart(6),
    String(r.storedTwice).padStart(6),
    String(r.redelivered).padStart(7),
    r.cpuUsPerEntry.toFixed(1).padStart(7),
    r.peakRssMb.toFixed(0).padStart(6),
    String(r.publisherLateMs).padStart(6),
    r.publisherCpuUs.toFixed(1).padStart(6),
    `  load ${r.load}; sent ${r.sent}, acked ${r.acked}, stored ${r.stored} in ${r.seconds.toFixed(1)} s${r.note !== "" ? `; ${r.note}` : ""}`,
  ].join(" ");
}

async function main(): Promise<void> {
  for (const f of ["ingest-collector.js", "paced-publisher.js"]) {
    if (!existsSync(join(HERE, f))) throw new Error(`${f} missing next to this file: run the built bench (npm run bench:ingest)`);
  }
  log(`# ingest bench: ${PUBLISHERS} publishers in ${PROCS} processes, ${SECONDS} s per point, rates ${RATES.join(", ")}, targets ${TARGETS.join(", ")}`);
  log(`# lag in ms (publish -> row committed; sub: -> line read); cpu in us per entry stored (consumer process only); rss in MB; late: publishers behind schedule, ms; pub/e: publishers' CPU per entry, us`);
  log(`target   offered achieved lag p50 lag p99 lag max   lost twice redeliv  cpu/e    rss   late  pub/e`);
  const all: PointResult[] = [];
  for (const rate of RATES) {
    for (const target of TARGETS) {
      const r = await point(target, rate);
      all.push(r);
      log(row(r));
    }
  }
  if (process.env.BENCH_JSON !== undefined) log(JSON.stringify(all));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`fleet-ingest-bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
