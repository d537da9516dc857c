/**
 * `npm run bench:gate-cpu`: CPU time the real gate code spends per entry, as the fleet simulator runs it (issue 16,
 * item 4). Runs DOORS real `GateApp`s in this process (sites of 10 doors, one SQLite store file and one MQTT
 * connection each, a simulated scanner and relay) against a Mosquitto of its own, and scans them round-robin at RATE
 * entries/s in all, so that each door sees a scan every DOORS/RATE s: as in the simulator, each entry is published,
 * acknowledged and deleted on its own (no batching a fast bench would enjoy and a door at one scan every 2 s does not).
 *
 * Two phases: chip cards only, then signed phone passes only (each pass also goes to the site's 9 other doors, which
 * write it into their stores: site replay). The passes are signed before the phase starts (signing is the phone
 * issuer's work, not the gate's). A phase's CPU (user + system of this process, `process.cpuUsage`) counts from its
 * first scan until every outbox is drained and the site's replays are stored, divided by the entries made. The idle
 * CPU of the same gates (keepalives, timers) is measured first and printed beside it.
 *
 * After a warm-up round (a quarter of the codes, not counted), the phases run ROUNDS times in turn and the median
 * round is the figure (this box's other work moves single rounds
 * by a third).
 *
 * Environment: DOORS (default 100), RATE (entries/s, default 500), CARDS and PASSES per round (default 2000, 1000),
 * ROUNDS (default 3),
 * SYNC (normal | full, default normal, as `qrgate sim`), LOG (gate log level, default warn, as `qrgate sim`; `info`
 * writes a line a scan to /dev/null as a device would), PROFILE (a file: writes a V8 CPU profile of both phases).
 * Figures, not assertions; note the load average printed with them.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "node:inspector/promises";
import { pino } from "pino";
import { validateConfig } from "../../src/config/load-config.js";
import { systemClock } from "../../src/drivers/clock.js";
import type { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import type { ScanOutcome } from "../../src/gate.js";
import { generateIssuerKeyPair, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { cardText, siteStatusRows } from "../../src/sim/population.js";
import { personId } from "../../src/sim/traffic.js";
import { openGateStore } from "../../src/store/gate-store.js";
import { startBroker } from "../support/mosquitto.js";

const env = (k: string, d: number): number => (process.env[k] !== undefined && process.env[k] !== "" ? Number(process.env[k]) : d);
const DOORS = env("DOORS", 100);
const RATE = env("RATE", 500);
const CARDS = env("CARDS", 2000);
const PASSES = env("PASSES", 1000);
const ROUNDS = env("ROUNDS", 3);
const SYNC = process.env.SYNC === "full" ? "FULL" : "NORMAL";
const LOG_LEVEL = process.env.LOG ?? "warn";
const PROFILE = process.env.PROFILE;
const PER_SITE = 10;
const PEOPLE_PER_SITE = 400;
/** Scans are made in ticks of this many ms (timers are not finer than a millisecond or two). */
const TICK_MS = 10;
const IDLE_MS = 2000;

interface Door {
  readonly app: GateApp;
  readonly scanner: SimScanner;
  readonly site: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-cpu-bench-"));
  const broker = await startBroker({ persistence: false, extra: ["max_connections -1"] });
  const log = pino({ level: LOG_LEVEL }, pino.destination({ dest: "/dev/null", sync: true }));
  const key = generateIssuerKeyPair("EdDSA", "bench-cpu");
  const keyFiles = await writeIssuerKeyFiles(join(dir, "keys"), key);
  const doors: Door[] = [];
  let profiler: Session | null = null;
  try {
    const sites = Math.ceil(DOORS / PER_SITE);
    for (let site = 0; site < sites; site++) {
      const template = join(dir, `template-${site}.db`);
      const t = openGateStore(template, systemClock);
      const stage = t.status.beginReplace();
      stage.addBatch(siteStatusRows(site, PEOPLE_PER_SITE));
      stage.commit(Date.now());
      t.db.close();
      for (let d = 0; d < PER_SITE && doors.length < DOORS; d++) {
        const path = join(dir, `s${site}`, `d${d}.db`);
        mkdirSync(join(dir, `s${site}`), { recursive: true });
        copyFileSync(template, path);
        const config = validateConfig(
          {
            site: `bench-s${site}`,
            device: `door-${d}`,
            door: `door-${d}`,
            scanner: { type: "sim" },
            relay: { type: "sim" },
            mqtt: { url: broker.url, allowPlaintext: true, keepaliveS: 30 },
            store: { path },
            passes: { issuerKeys: keyFiles.jwksPath },
            health: { periodS: 30 },
            log: { level: LOG_LEVEL },
          },
          "gate-cpu-bench",
        );
        const app = new GateApp(config, log.child({ site: config.site, device: config.device }), {
          timeSync: { isSynchronized: () => Promise.resolve(true) },
        });
        const connected = new Promise<void>((r) => app.session.onConnect(r));
        await app.start();
        if (SYNC !== "FULL") app.db.pragma(`synchronous = ${SYNC}`);
        await connected;
        doors.push({ app, scanner: app.scanner as SimScanner, site });
      }
    }
    // Let the connections settle (subscriptions to the site topics, first health messages).
    await sleep(1000);
    process.stdout.write(
      `gate CPU per entry: ${DOORS} doors (sites of ${PER_SITE}), ${RATE} entries/s round-robin (a scan per door every ` +
        `${((DOORS / RATE) * 1000).toFixed(0)} ms), synchronous=${SYNC}, log level ${LOG_LEVEL}, node ${process.version}\n`,
    );

    const idle0 = cpuMs();
    await sleep(IDLE_MS);
    const idlePerS = ((cpuMs() - idle0) / IDLE_MS) * 1000;
    process.stdout.write(`idle: ${idlePerS.toFixed(1)} ms CPU per second for the ${DOORS} gates (load ${load()})\n`);

    if (PROFILE !== undefined) {
      profiler = new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.start");
    }

    let person = 0;
    const nextId = (site: number): string => personId(site, person++ % PEOPLE_PER_SITE);
    let counting: (o: ScanOutcome) => void = () => undefined;
    for (const d of doors) d.app.onOutcome((o) => counting(o));
    const phase = async (name: string, count: number, code: (door: Door) => string): Promise<{ perEntry: number; allowed: number }> => {
      // The codes are made first: the card text and the pass signature are not the gate's work.
      const codes = Array.from({ length: count }, (_, i) => code(doors[i % doors.length] as Door));
      const entriesBefore = doors.reduce((n, d) => n + d.app.outbox.depth().rows, 0);
      if (entriesBefore !== 0) throw new Error(`outboxes not empty before ${name}`);
      let entries = 0;
      let allowed = 0;
      counting = (o) => {
        if (o.entry !== null) entries++;
        if (o.decision === "allow") allowed++;
      };
      const c0 = cpuMs();
      const t0 = performance.now();
      let made = 0;
      while (made < count) {
        const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * RATE) + 1);
        for (; made < due; made++) (doors[made % doors.length] as Door).scanner.emit(codes[made] as string);
        await sleep(Math.max(1, TICK_MS - ((performance.now() - t0) % TICK_MS)));
      }
      const drained = (await Promise.all(doors.map((d) => d.app.drained(30_000)))).every(Boolean);
      // The last replays to reach the site's other doors, and their ack flushes.
      await sleep(200);
      const wallMs = performance.now() - t0;
      const used = cpuMs() - c0 - (idlePerS * wallMs) / 1000;
      const total = cpuMs() - c0;
      process.stdout.write(
        `${name.padEnd(7)} ${entries} entries in ${(wallMs / 1000).toFixed(1)} s${drained ? "" : " (NOT drained)"}: ` +
          `${(total / entries).toFixed(3)} ms CPU per entry, ${(used / entries).toFixed(3)} ms without the idle share ` +
          `(${((total / wallMs) * 100).toFixed(0)} % of a core; load ${load()})\n`,
      );
      return { perEntry: total / entries, allowed };
    };
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const cards: number[] = [];
    const passes: number[] = [];
    let passesAllowed = 0;
    // A round to warm up (the JIT compiles the scan path; SQLite's page caches fill), not counted.
    process.stdout.write("warm-up round\n");
    await phase("cards", Math.ceil(CARDS / 4), (d) => cardText(nextId(d.site)));
    const warmS = Math.floor(Date.now() / 1000);
    await phase("passes", Math.ceil(PASSES / 4), (d) =>
      signPass({ privateKey: key.privateKey, kid: key.kid, alg: key.alg, sub: nextId(d.site), ttlS: 600, nowS: warmS }),
    );
    const receivedBefore = doors.reduce((n, d) => n + d.app.siteReplay.received, 0);
    for (let round = 1; round <= ROUNDS; round++) {
      process.stdout.write(`round ${round}/${ROUNDS}\n`);
      cards.push((await phase("cards", CARDS, (d) => cardText(nextId(d.site)))).perEntry);
      const nowS = Math.floor(Date.now() / 1000);
      const p = await phase("passes", PASSES, (d) =>
        signPass({ privateKey: key.privateKey, kid: key.kid, alg: key.alg, sub: nextId(d.site), ttlS: 600, nowS }),
      );
      passes.push(p.perEntry);
      passesAllowed += p.allowed;
    }
    const received = doors.reduce((n, d) => n + d.app.siteReplay.received, 0) - receivedBefore;
    process.stdout.write(
      `site replay: ${received} passes recorded at other doors (expected ${passesAllowed} allowed x ${PER_SITE - 1} = ${passesAllowed * (PER_SITE - 1)})\n`,
    );
    process.stdout.write(
      `CPU per entry, median of ${ROUNDS} rounds: cards ${median(cards).toFixed(3)} ms, passes ${median(passes).toFixed(3)} ms ` +
        `(min ${Math.min(...cards).toFixed(3)} / ${Math.min(...passes).toFixed(3)}); load ${load()}\n`,
    );

    if (profiler !== null && PROFILE !== undefined) {
      const { profile } = await profiler.post("Profiler.stop");
      writeFileSync(PROFILE, JSON.stringify(profile));
      process.stdout.write(`CPU profile written to ${PROFILE}\n`);
    }
  } finally {
    profiler?.disconnect();
    await Promise.all(doors.map((d) => d.app.stop()));
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
