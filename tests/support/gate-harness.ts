/** A Gate over a real SQLite file with a fake clock and a simulated relay: the loop without the process around it. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { DEFAULT_POLICY } from "../../src/core/policy.js";
import type { StatusRow } from "../../src/core/status-row.js";
import type { IssuerKeySet } from "../../src/core/issuer-keys.js";
import { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { Gate, type EntryJournal, type GateSettings } from "../../src/gate.js";
import { openDatabase, type SqliteDb } from "../../src/store/database.js";
import { Journal } from "../../src/store/journal.js";
import { Outbox } from "../../src/store/outbox.js";
import { StatusTable } from "../../src/store/status-table.js";
import { UsedPasses } from "../../src/store/used-passes.js";
import { FakeClock } from "../fakes/fake-clock.js";

export interface Harness {
  readonly gate: Gate;
  readonly clock: FakeClock;
  readonly relay: SimRelay;
  readonly db: SqliteDb;
  readonly status: StatusTable;
  readonly outbox: Outbox;
  readonly dbPath: string;
  kicks: number;
  readonly alarms: Array<[string, string]>;
  scan(text: string | Buffer): ReturnType<Gate["handle"]>;
}

export function makeHarness(opts: {
  rows?: StatusRow[];
  settings?: Partial<GateSettings>;
  keys?: IssuerKeySet;
  dbPath?: string;
  clock?: FakeClock;
  journal?: (real: Journal) => EntryJournal;
} = {}): Harness {
  const dbPath = opts.dbPath ?? join(mkdtempSync(join(tmpdir(), "qrgate-gate-")), "gate.db");
  const clock = opts.clock ?? new FakeClock();
  const log = pino({ level: "silent" });
  const db = openDatabase(dbPath, { synchronous: "FULL" });
  const status = new StatusTable(db);
  if (opts.rows !== undefined) {
    const stage = status.beginReplace();
    stage.addBatch(opts.rows);
    stage.commit(clock.wallMs());
  }
  const relay = new SimRelay({ pulseMs: 3000, maxPulseMs: 15000, activeLow: false }, clock, log);
  relay.init();
  const real = new Journal(db);
  const h: Harness = {
    clock,
    relay,
    db,
    status,
    outbox: new Outbox(db),
    dbPath,
    kicks: 0,
    alarms: [],
    gate: undefined as unknown as Gate,
    scan(text) {
      return h.gate.handle({ bytes: Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8"), receivedMono: clock.monoMs() });
    },
  };
  (h as { gate: Gate }).gate = new Gate(
    {
      site: "hq",
      device: "gate-1",
      door: "lobby",
      topicRoot: "qrgate/v1",
      policy: DEFAULT_POLICY,
      keys: opts.keys ?? new Map(),
      skewS: 30,
      budgetMs: 2000,
      dedupMs: 1500,
      ...opts.settings,
    },
    {
      clock,
      relay,
      status,
      journal: opts.journal ? opts.journal(real) : real,
      replay: new UsedPasses(db),
      uplink: { kick: () => void h.kicks++ },
      alarms: { raise: (event, detail) => void h.alarms.push([event, detail]) },
      log,
    },
  );
  return h;
}

export const ROW = (id: string, over: Partial<StatusRow> = {}): StatusRow => ({
  id,
  status: "clear",
  doses: 2,
  lastDose: "2021-09-01",
  recoveredOn: null,
  dob: null,
  zone: null,
  flags: [],
  ...over,
});

export const CARD = (id: string, dob = "01011990") =>
  `${id}|123456789|Nguyễn Văn An|${dob}|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;
