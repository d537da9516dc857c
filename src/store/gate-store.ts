import type { Clock } from "../drivers/clock.js";
import { openDatabase, type SqliteDb } from "./database.js";
import { Journal } from "./journal.js";
import { Outbox } from "./outbox.js";
import { Settings } from "./settings.js";
import { StatusTable } from "./status-table.js";
import { TrustedClock } from "./trusted-clock.js";
import { UsedPasses } from "./used-passes.js";

/** Everything the gate keeps in its one SQLite file, opened together. */
export interface GateStore {
  readonly db: SqliteDb;
  readonly settings: Settings;
  readonly clock: TrustedClock;
  readonly status: StatusTable;
  readonly journal: Journal;
  readonly outbox: Outbox;
  readonly usedPasses: UsedPasses;
}

/** Opens (creating, migrating) the store at `path`; throws StoreError when the path cannot be used. */
export function openGateStore(path: string, baseClock: Clock): GateStore {
  const db = openDatabase(path, { synchronous: "FULL" });
  try {
    const settings = new Settings(db);
    return {
      db,
      settings,
      clock: new TrustedClock(baseClock, settings),
      status: new StatusTable(db),
      journal: new Journal(db),
      outbox: new Outbox(db),
      usedPasses: new UsedPasses(db),
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
