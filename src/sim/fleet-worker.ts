/**
 * One worker process of the fleet simulator: runs its share of the doors, each a real `GateApp` (the real gate loop,
 * its own SQLite store file, its own MQTT connection) with a simulated scanner and relay, and feeds them the
 * traffic of src/sim/traffic.ts. Started by src/sim/fleet-runner.ts with `fork`; talks over the IPC channel only
 * (src/sim/fleet-messages.ts).
 *
 * Resources per gate: 3 file descriptors for SQLite (the file, its WAL and its shared-memory index) and one socket;
 * a handful of timers (health, trusted-time persistence, housekeeping, MQTT keepalive), staggered because the gates
 * start a few at a time. The status table is written once per site into a template file and copied per door.
 */
import { copyFileSync, mkdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino, type Logger } from "pino";
import { validateConfig } from "../config/load-config.js";
import { SimScanner } from "../drivers/scanner/sim-scanner.js";
import type { TimeSyncProbe } from "../drivers/time-sync-probe.js";
import { GateApp } from "../gate-app.js";
import { readPrivateKeyFile, type IssuerPrivateKey } from "../issuer/key-files.js";
import { signPass } from "../issuer/pass-signer.js";
import { openGateStore } from "../store/gate-store.js";
import { diskFreeBytes } from "../services/disk-free.js";
import { systemClock } from "../drivers/clock.js";
import type { FromWorker, Sample, ToWorker, WorkerSpec } from "./fleet-messages.js";
import { cardText, siteStatusRows } from "./population.js";
import { Passers, poisson, rateFactor, seededRandom } from "./traffic.js";

/** Gates started at once: their connections and first timers spread out instead of arriving together. */
const START_CONCURRENCY = 20;
/** The traffic loop's tick; each tick draws the scans due since the last one. */
const TICK_MS = 50;
const PROGRESS_MS = 1000;
const OUTBOX_EVERY_MS = 5000;
/** How long one gate's start waits for its connection before the next one starts anyway. */
const CONNECT_EACH_MS = 5000;
/** How long the gates may take to connect before the traffic starts anyway. */
const CONNECT_WAIT_MS = 60_000;
/** How long a signed pass stays valid: a phone pass is shown minutes after it is made. */
const PASS_TTL_S = 600;

/** The host clock is one for all the simulated gates: asking the time daemons 5,000 times a period is not the point. */
const hostClockIsSynchronised: TimeSyncProbe = { isSynchronized: () => Promise.resolve(true) };

/** How long one look at the free disk space serves every gate of the worker. */
const DISK_FREE_EVERY_MS = 5000;

/**
 * Likewise the disk is one for all the gates of a worker (their stores share a folder): one `statfs` every few
 * seconds answers their health reports, instead of one per gate and report (167 a second at 5,000 gates).
 */
function sharedDiskFree(): (dir: string) => Promise<number | null> {
  let last: { atMs: number; value: Promise<number | null> } | null = null;
  return (dir) => {
    const now = performance.now();
    if (last === null || now - last.atMs >= DISK_FREE_EVERY_MS) last = { atMs: now, value: diskFreeBytes(dir) };
    return last.value;
  };
}

interface Door {
  readonly app: GateApp;
  readonly scanner: SimScanner;
  readonly site: number;
  readonly key: string;
  lastId: string | null;
}

export const siteName = (site: number): string => `sim-s${String(site).padStart(4, "0")}`;
export const deviceName = (door: number): string => `door-${String(door).padStart(2, "0")}`;

function send(msg: FromWorker): void {
  process.send?.(msg);
}

/** Writes the site's status table once into a template store, to be copied per door. */
function siteTemplate(spec: WorkerSpec, site: number): string {
  const path = join(spec.dir, "templates", `${siteName(site)}.db`);
  const store = openGateStore(path, systemClock);
  try {
    const stage = store.status.beginReplace();
    stage.addBatch(siteStatusRows(site, spec.peoplePerSite));
    stage.commit(Date.now());
  } finally {
    // The last connection closing checkpoints the WAL into the file, so a plain copy is a complete store.
    store.db.close();
  }
  return path;
}

async function buildDoors(spec: WorkerSpec, log: Logger): Promise<Door[]> {
  const doors: Door[] = [];
  const diskFree = sharedDiskFree();
  const pending: Array<() => Promise<void>> = [];
  for (const s of spec.sites) {
    const template = siteTemplate(spec, s.site);
    const siteDir = join(spec.dir, siteName(s.site));
    mkdirSync(siteDir, { recursive: true });
    for (let d = 0; d < s.doors; d++) {
      const path = join(siteDir, `${deviceName(d)}.db`);
      // A WAL left by an earlier run killed in the middle would be replayed onto the fresh copy: remove it first.
      for (const leftover of [`${path}-wal`, `${path}-shm`]) rmSync(leftover, { force: true });
      copyFileSync(template, path);
      const config = validateConfig(
        {
          site: siteName(s.site),
          device: deviceName(d),
          door: deviceName(d),
          scanner: { type: "sim" },
          relay: { type: "sim" },
          // Synthetic IDs only, so clear IDs over plain MQTT are acceptable here whatever the broker's host.
          mqtt: { url: spec.url, root: spec.root, allowPlaintext: true, keepaliveS: spec.keepaliveS },
          store: { path },
          passes: { issuerKeys: spec.jwksPath },
          health: { periodS: spec.healthPeriodS },
          log: { level: spec.logLevel },
        },
        `sim ${siteName(s.site)}/${deviceName(d)}`,
      );
      pending.push(async () => {
        const app = new GateApp(config, log.child({ site: config.site, device: config.device }), { timeSync: hostClockIsSynchronised, diskFree });
        const connected = new Promise<void>((resolve) => app.session.onConnect(resolve));
        await app.start();
        if (spec.synchronous !== "FULL") app.db.pragma(`synchronous = ${spec.synchronous}`);
        // The next gate starts once this one has its CONNACK (or after a while): thousands of handshakes begun at
        // once time out on a busy loop and come back as a reconnection storm.
        await Promise.race([connected, new Promise((r) => setTimeout(r, CONNECT_EACH_MS))]);
        doors.push({ app, scanner: app.scanner as SimScanner, site: s.site, key: `${config.site}/${config.device}`, lastId: null });
      });
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: START_CONCURRENCY }, async () => {
      while (next < pending.length) {
        const job = pending[next++] as () => Promise<void>;
        await job();
      }
    }),
  );
  return doors;
}

async function main(): Promise<void> {
  const spec = await new Promise<WorkerSpec>((resolve) => {
    process.once("message", (m: ToWorker) => {
      if (m.type === "spec") resolve(m.spec);
    });
  });
  // The gates' own stop says "connection lost" once per gate: muted, as it is the simulator's doing, not news.
  let muted = false;
  const log = pino({ level: spec.logLevel, base: { worker: spec.worker } }, { write: (line: string) => void (muted || writeSync(2, line)) });
  const passKey: IssuerPrivateKey = await readPrivateKeyFile(spec.passKeyPath);
  const random = seededRandom(spec.seed + spec.worker * 7919);
  const passers = new Passers(spec.peoplePerSite, spec.mix, random);

  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const doors = await buildDoors(spec, log);
  // Traffic starts once every gate has its connection (a gate whose broker is away would only fill its outbox).
  for (let waited = 0; doors.some((d) => !d.app.session.connected) && waited < CONNECT_WAIT_MS; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  send({ type: "ready", gates: doors.length, rssBeforeBytes: rssBefore, rssAfterBytes: process.memoryUsage().rss, startMs: performance.now() - t0 });

  let scans = 0;
  let entries = 0;
  let samples: Sample[] = [];
  const reasons: Record<string, number> = {};
  for (const door of doors) {
    door.app.onOutcome((o) => {
      reasons[o.reason] = (reasons[o.reason] ?? 0) + 1;
      if (o.entry === null) return;
      entries++;
      if (spec.sampleEvery > 0 && entries % spec.sampleEvery === 0) samples.push({ id: o.entry.id, tsMs: Date.parse(o.entry.ts) });
    });
  }
  const flushSamples = (): void => {
    if (samples.length === 0) return;
    send({ type: "samples", samples });
    samples = [];
  };
  let reconnects = 0;
  for (const door of doors) {
    let first = true;
    door.app.session.onConnect(() => {
      if (!first) reconnects++;
      first = false;
    });
    // Already connected: the listener will only see the connections after this one.
    if (door.app.session.connected) first = false;
  }
  const connected = (): number => doors.reduce((n, d) => n + (d.app.session.connected ? 1 : 0), 0);
  // A count per gate is a query per gate: every few seconds only.
  let outboxSeen = 0;
  let outboxAt = -Infinity;
  const outboxRows = (fresh = false): number => {
    if (fresh || performance.now() - outboxAt >= OUTBOX_EVERY_MS) {
      outboxAt = performance.now();
      outboxSeen = doors.reduce((n, d) => n + d.app.outbox.depth().rows, 0);
    }
    return outboxSeen;
  };

  const go = await new Promise<{ startWallMs: number; stopped: Promise<void> }>((resolve) => {
    let onStop!: () => void;
    const stopped = new Promise<void>((r) => (onStop = r));
    process.on("message", (m: ToWorker) => {
      if (m.type === "go") resolve({ startWallMs: m.startWallMs, stopped });
      if (m.type === "stop") onStop();
    });
  });

  // The run's clock is the parent's start time, so every worker is at the same point of the morning curve.
  const startMono = performance.now() - (Date.now() - go.startWallMs);
  const endMono = startMono + spec.durationMs;
  let earlyStop = false;
  void go.stopped.then(() => (earlyStop = true));
  const rateAll = spec.ratePerDoor * doors.length;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let last = performance.now();
  let lastProgress = last;
  const scan = (door: Door): void => {
    const pick = passers.next(door.site, door.lastId);
    door.lastId = pick.id;
    const nowS = Math.floor(Date.now() / 1000);
    const text = pick.pass
      ? signPass({ privateKey: passKey.privateKey, kid: passKey.kid, alg: passKey.alg, sub: pick.id, ttlS: PASS_TTL_S, nowS })
      : cardText(pick.id);
    door.scanner.emit(text);
    scans++;
  };
  // Scans due but not made yet. A late tick must not make its whole arrears at once: that blocks the loop longer,
  // the next tick is later still, and the worker never recovers (PUBACKs and pings wait behind the burst).
  let due = 0;
  let behindMax = 0;
  const slice = Math.max(20, Math.ceil((rateAll * spec.peak * TICK_MS) / 1000) * 2);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const until = Math.min(now, endMono);
      if (until > last) {
        const mid = ((last + until) / 2 - startMono) / spec.durationMs;
        due += poisson((rateAll * rateFactor(mid, spec.peak) * (until - last)) / 1000, random);
        last = until;
      }
      behindMax = Math.max(behindMax, due);
      const n = earlyStop ? 0 : Math.min(due, slice);
      for (let i = 0; i < n && doors.length > 0; i++) scan(doors[Math.floor(random() * doors.length)] as Door);
      due -= n;
      flushSamples();
      if (now - lastProgress >= PROGRESS_MS) {
        lastProgress = now;
        send({ type: "progress", scans, entries, connected: connected(), outboxRows: outboxRows(), reconnects, behind: due });
      }
      // The run ends when its time is up and every scan due in it is made (or on a stop).
      if (earlyStop || (now >= endMono && due === 0)) resolve();
      else setTimeout(tick, due > 0 ? 0 : Math.max(0, Math.min(TICK_MS, endMono - now)));
    };
    // Before the start time (the parent's clock is ahead of ours by the IPC delay): wait for it.
    setTimeout(tick, Math.max(0, startMono - performance.now()));
    last = Math.max(last, startMono);
  });
  const lateMs = Math.max(0, performance.now() - endMono);

  // Every journaled entry handed over to the broker (PUBACK) and its outbox row deleted, or the time is up.
  loopDelay.disable();
  const drainedAll = (await Promise.all(doors.map((d) => d.app.drained(spec.drainMs)))).every(Boolean);
  flushSamples();
  send({ type: "progress", scans, entries, connected: connected(), outboxRows: outboxRows(true), reconnects, behind: 0 });
  const journal: Record<string, number> = {};
  for (const d of doors) {
    const row = d.app.db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number };
    journal[d.key] = row.n;
  }
  send({
    type: "done",
    scans,
    journal,
    outboxRows: outboxRows(true),
    drained: drainedAll,
    reasons,
    reconnects,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    behindMax,
    lateMs,
  });
  muted = true;
  await Promise.all(doors.map((d) => d.app.stop()));
  process.removeAllListeners("disconnect");
  process.disconnect?.();
}

// Ctrl-C reaches the whole process group: the parent decides (it tells us to stop and drain). A parent gone for
// good leaves nobody to report to.
process.on("SIGINT", () => undefined);
process.on("disconnect", () => process.exit(1));

main().catch((e: unknown) => {
  send({ type: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exitCode = 1;
  process.disconnect?.();
});
