/**
 * Take-over at scale (issue 16, item 2): `npm run bench:takeover` (or `node dist/tests/bench/takeover-bench.js`
 * after `npm run build`).
 *
 * One Mosquitto (`max_queued_messages 0`), COLLECTORS `qrgate collect` processes of one group on one store
 * (PostgreSQL by default), PUBLISHERS paced MQTT clients sending RATE entries/s in all at QoS 1 for DURATION_S
 * seconds. At KILL_AT_S one collector is SIGKILLed (MODE=kill) or frozen with SIGSTOP (MODE=stop) and stays
 * away to the end. Printed: when the survivors took its session over and retired it (from the kill), how many
 * messages that session held, entries published / stored / distinct ids / lost, redeliveries the store
 * de-duplicated, the stored rate second by second around the kill, and the lag (receipt minus entry time) p50 /
 * p99 / max. `BASELINE=1` runs the same with `--takeover off` first, for comparison (the outside review:
 * 199,317 of 300,000 stored while one of two collectors was dead).
 *
 * Environment (defaults in brackets): QRGATE_TAKEOVER_RATE [5000], QRGATE_TAKEOVER_DURATION_S [60],
 * QRGATE_TAKEOVER_PUBLISHERS [100], QRGATE_TAKEOVER_COLLECTORS [2], QRGATE_TAKEOVER_KILL_AT_S [15],
 * QRGATE_TAKEOVER_MODE [kill|stop], QRGATE_TAKEOVER_LEASE_TTL_S [10], QRGATE_TAKEOVER_DB [postgres|sqlite],
 * QRGATE_TAKEOVER_PG_URL [postgres://root@127.0.0.1:5432/test], QRGATE_TAKEOVER_BASELINE [0],
 * QRGATE_TAKEOVER_DRAIN_S [15: after publishing ends, stop waiting once the count has not moved for this long].
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import pg from "pg";
import type { EntryStore } from "../../src/centre/entry-store.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { spawnCollector, type CollectorProcess } from "../support/collector-process.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";

const env = (k: string, d: number): number => (process.env[k] !== undefined ? Number(process.env[k]) : d);
const RATE = env("QRGATE_TAKEOVER_RATE", 5000);
const DURATION_S = env("QRGATE_TAKEOVER_DURATION_S", 60);
const PUBLISHERS = env("QRGATE_TAKEOVER_PUBLISHERS", 100);
const COLLECTORS = env("QRGATE_TAKEOVER_COLLECTORS", 2);
const KILL_AT_S = env("QRGATE_TAKEOVER_KILL_AT_S", 15);
const LEASE_TTL_S = env("QRGATE_TAKEOVER_LEASE_TTL_S", 10);
const DRAIN_S = env("QRGATE_TAKEOVER_DRAIN_S", 15);
const MODE = process.env.QRGATE_TAKEOVER_MODE === "stop" ? "stop" : "kill";
const DB = process.env.QRGATE_TAKEOVER_DB === "sqlite" ? "sqlite" : "postgres";
const PG_URL = process.env.QRGATE_TAKEOVER_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
const BASELINE = process.env.QRGATE_TAKEOVER_BASELINE === "1";
const TICK_MS = 100;

function out(line: string): void {
  process.stdout.write(line + "\n");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let seq = 0;
const RUN = randomBytes(4).toString("hex");

/** An entry stamped now, with a unique time-ordered id. */
function entry(publisher: number): EntryMessage {
  const tsMs = Date.now();
  const n = (seq++).toString(16).padStart(12, "0");
  const h = tsMs.toString(16).padStart(12, "0");
  return {
    id: `${h.slice(0, 8)}-${h.slice(8, 12)}-7${RUN.slice(0, 3)}-8${RUN.slice(3, 6)}-${n}`,
    ts: new Date(tsMs).toISOString(),
    site: `site-${publisher % 50}`,
    device: `gate-${publisher}`,
    door: "main",
    decision: "allow",
    reason: "ok",
    kind: "cccd",
    subject: `0010990${String(seq % 100_000).padStart(5, "0")}`,
    latencyMs: 12.5,
    statusVersion: 7,
    stale: false,
  };
}

interface Store {
  readonly db: string;
  readonly store: EntryStore;
  count(): Promise<number>;
  distinct(): Promise<number>;
  /** received_ms - ts_ms over every row, in ms: p50, p99, max. */
  lag(): Promise<{ p50: number; p99: number; max: number }>;
  dispose(): Promise<void>;
}

async function openStore(): Promise<Store> {
  if (DB === "postgres") {
    const schema = `qrgate_takeover_${randomBytes(5).toString("hex")}`;
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    const store = new PostgresEntryStore(u.toString());
    await store.migrate();
    const one = async (sql: string): Promise<number> => Number((await store.query(sql)).rows[0]?.n ?? 0);
    return {
      db: u.toString(),
      store,
      count: () => one("SELECT count(*) AS n FROM entries"),
      distinct: () => one("SELECT count(DISTINCT id) AS n FROM entries"),
      async lag() {
        const r = await store.query(
          `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY received_ms - ts_ms) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY received_ms - ts_ms) AS p99, max(received_ms - ts_ms) AS max FROM entries`,
        );
        const row = r.rows[0] as { p50: number; p99: number; max: number };
        return { p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max) };
      },
      async dispose() {
        await store.close();
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "qrgate-takeover-bench-"));
  const file = join(dir, "centre.db");
  const store = new SqliteEntryStore(file);
  await store.migrate();
  const one = (sql: string): number => (store.database.prepare(sql).get() as { n: number }).n;
  return {
    db: file,
    store,
    count: () => Promise.resolve(one("SELECT count(*) AS n FROM entries")),
    distinct: () => Promise.resolve(one("SELECT count(DISTINCT id) AS n FROM entries")),
    lag() {
      const lags = (store.database.prepare("SELECT received_ms - ts_ms AS l FROM entries ORDER BY l").all() as { l: number }[]).map((r) => r.l);
      const at = (q: number): number => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? NaN;
      return Promise.resolve({ p50: at(0.5), p99: at(0.99), max: lags.at(-1) ?? NaN });
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface RunResult {
  published: number;
  stored: number;
  distinct: number;
  tookOverMs: number | null;
  retiredMs: number | null;
  drained: number;
  drainedNew: number;
  redeliveries: number;
  lag: { p50: number; p99: number; max: number };
  timeline: number[];
}

async function waitCollecting(c: CollectorProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (c.lines.some((l) => l.includes('"msg":"collecting"'))) return;
    if (c.child.exitCode !== null) throw new Error(`${c.name} exited ${c.child.exitCode}: ${c.lines.join("\n")}`);
    await sleep(50);
  }
  throw new Error(`${c.name} did not start`);
}

async function run(broker: TestBroker, takeover: boolean): Promise<RunResult> {
  const s = await openStore();
  const group = `bench${randomBytes(3).toString("hex")}`;
  const collectors: CollectorProcess[] = [];
  const publishers: MqttClient[] = [];
  try {
    for (let i = 0; i < COLLECTORS; i++) {
      const c = spawnCollector(`${group}-c${i}`, broker.url, ["--db", s.db, "--group", group, "--lease-ttl-s", String(LEASE_TTL_S), "--takeover", takeover ? "on" : "off"]);
      collectors.push(c);
    }
    for (const c of collectors) await waitCollecting(c);
    for (let p = 0; p < PUBLISHERS; p++) {
      publishers.push(await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `${group}-pub-${p}`, reconnectPeriod: 500 }));
    }

    const victim = collectors[0]!;
    let killedAt = 0;
    let published = 0;
    const acks: Promise<unknown>[] = [];
    const perTick = (RATE * TICK_MS) / 1000;
    const t0 = Date.now();
    const timeline: number[] = [];
    let lastCount = 0;
    const sampler = setInterval(() => {
      void s.count().then((n) => {
        timeline.push(n - lastCount);
        lastCount = n;
      });
    }, 1000);
    // Paced by the clock: tick k sends its share at t0 + k * TICK_MS, whatever the broker answers.
    for (let k = 0; Date.now() - t0 < DURATION_S * 1000; k++) {
      const target = Math.floor((k + 1) * perTick);
      while (published < target) {
        const p = published % PUBLISHERS;
        const e = entry(p);
        acks.push(publishers[p]!.publishAsync(`qrgate/v1/${e.site}/${e.device}/entry`, JSON.stringify(e), { qos: 1 }));
        published += 1;
      }
      if (killedAt === 0 && Date.now() - t0 >= KILL_AT_S * 1000) {
        victim.child.kill(MODE === "kill" ? "SIGKILL" : "SIGSTOP");
        killedAt = Date.now();
        out(`  ${MODE === "kill" ? "SIGKILL" : "SIGSTOP"} ${victim.name} at ${((killedAt - t0) / 1000).toFixed(1)} s, ${published} published`);
      }
      const wait = t0 + (k + 1) * TICK_MS - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(acks);
    const pubEnd = Date.now();
    out(`  published ${published} in ${((pubEnd - t0) / 1000).toFixed(1)} s (${Math.round(published / ((pubEnd - t0) / 1000))}/s offered)`);
    let stored = await s.count();
    let lastChange = Date.now();
    while (stored < published && Date.now() - lastChange < DRAIN_S * 1000) {
      await sleep(500);
      const n = await s.count();
      if (n !== stored) lastChange = Date.now();
      stored = n;
    }
    clearInterval(sampler);

    const survivors = collectors.slice(1);
    const first = (msg: string): Record<string, unknown> | undefined =>
      survivors.flatMap((c) => c.logged(msg)).sort((a, b) => Number(a.time) - Number(b.time))[0];
    const took = first("collector gone (lease expired): taking over its session");
    const retired = first("retired the session of a gone collector: its share goes to the others");
    for (const c of survivors) c.child.kill("SIGTERM");
    await Promise.all(survivors.map((c) => c.exited));
    const redeliveries = survivors.flatMap((c) => c.logged("stopped")).reduce((a, l) => a + Number(l.entriesDuplicate ?? 0), 0);
    return {
      published,
      stored,
      distinct: await s.distinct(),
      tookOverMs: took === undefined ? null : Number(took.time) - killedAt,
      retiredMs: retired === undefined ? null : Number(retired.time) - killedAt,
      drained: Number(retired?.received ?? 0),
      drainedNew: Number(retired?.entriesNew ?? 0),
      redeliveries,
      lag: await s.lag(),
      timeline,
    };
  } finally {
    for (const c of collectors) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill("SIGCONT");
        c.child.kill("SIGKILL");
      }
    }
    await Promise.all(publishers.map((p) => p.endAsync().catch(() => undefined)));
    await s.dispose();
  }
}

function report(name: string, r: RunResult): void {
  const lost = r.published - r.stored;
  out(`\n${name}`);
  out(`| | |`);
  out(`|---|---|`);
  out(`| published / stored / distinct ids | ${r.published} / ${r.stored} / ${r.distinct} |`);
  out(`| lost / stored twice | ${lost} / ${r.stored - r.distinct} |`);
  out(`| ${MODE} -> survivor takes the session over | ${r.tookOverMs === null ? "never" : `${(r.tookOverMs / 1000).toFixed(1)} s`} |`);
  out(`| ${MODE} -> session retired (share back with the group) | ${r.retiredMs === null ? "never" : `${(r.retiredMs / 1000).toFixed(1)} s`} |`);
  out(`| messages the dead session held (new entries among them) | ${r.drained} (${r.drainedNew}) |`);
  out(`| redeliveries de-duplicated by the store (survivors) | ${r.redeliveries} |`);
  out(`| lag received - ts, p50 / p99 / max | ${r.lag.p50.toFixed(0)} / ${r.lag.p99.toFixed(0)} / ${r.lag.max.toFixed(0)} ms |`);
  out(`| stored per second | ${r.timeline.join(" ")} |`);
  out(JSON.stringify({ bench: "takeover", name, mode: MODE, db: DB, rate: RATE, durationS: DURATION_S, collectors: COLLECTORS, leaseTtlS: LEASE_TTL_S, ...r, lost }));
}

async function main(): Promise<void> {
  out(
    `takeover bench: ${DB}, ${COLLECTORS} collectors, ${PUBLISHERS} publishers, ${RATE} entries/s for ${DURATION_S} s, ` +
      `${MODE} one at ${KILL_AT_S} s, lease TTL ${LEASE_TTL_S} s`,
  );
  const broker = await startBroker({ persistence: false });
  try {
    if (BASELINE) report("without take-over (--takeover off)", await run(broker, false));
    report("with take-over", await run(broker, true));
  } finally {
    await broker.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
