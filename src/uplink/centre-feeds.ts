/**
 * The gate's part of the fleet contract that the centre drives (docs/contract.md §5.7): status sync, issuer key
 * sync and signed commands, over one inbound router. Off when `centre.publicKey` is not set: nothing the centre
 * sends could be verified, so nothing is subscribed.
 */
import type { KeyObject } from "node:crypto";
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { IssuerKeySet } from "../core/issuer-keys.js";
import type { Clock } from "../drivers/clock.js";
import type { Gate } from "../gate.js";
import type { AlarmSink } from "../services/alarms.js";
import { openDatabase, type SqliteDb } from "../store/database.js";
import { CommandHandler } from "./command-handler.js";
import { InboundRouter } from "./inbound-router.js";
import { KeySync } from "./key-sync.js";
import { Refusals } from "./refusals.js";
import { StatusSync, type StatusSyncHealth } from "./status-sync.js";

export interface CentreFeedsSettings {
  readonly root: string;
  readonly site: string;
  readonly device: string;
  readonly skewS: number;
  readonly gapWaitMs: number;
  readonly storePath: string;
}

export interface CentreFeedsDeps {
  readonly centreKey: KeyObject;
  readonly db: SqliteDb;
  readonly gate: Gate;
  readonly clock: Clock;
  readonly alarms: AlarmSink;
  /** Puts a message in the outbox and nudges the uplink. */
  readonly queue: (topic: string, payload: string) => void;
  readonly loadFileKeys: () => IssuerKeySet;
  readonly log: Logger;
}

/** What health shows of the feeds. */
export interface CentreFeedsHealth {
  readonly status: StatusSyncHealth | null;
  readonly keys: { readonly version: number; readonly keys: number | null };
  readonly refusalsSuppressed: number;
}

export class CentreFeeds {
  readonly router: InboundRouter;
  readonly status: StatusSync;
  readonly keys: KeySync;
  readonly commands: CommandHandler;
  private readonly refusals: Refusals;

  constructor(s: CentreFeedsSettings, d: CentreFeedsDeps) {
    this.refusals = new Refusals(d.alarms, d.clock, d.log.child({ module: "refusals" }));
    this.router = new InboundRouter(this.refusals, d.log.child({ module: "inbound" }));
    this.status = new StatusSync(
      { root: s.root, site: s.site, gapWaitMs: s.gapWaitMs, applyBatchRows: 500 },
      {
        centreKey: d.centreKey,
        openStore: () => {
          if (s.storePath === ":memory:") return { db: d.db, release: () => undefined };
          // Staging a million rows through the gate's synchronous=FULL connection would sync the disk a thousand
          // times; a crash only loses staged chunks, which are fetched again.
          const db = openDatabase(s.storePath, { synchronous: "NORMAL" });
          return { db, release: () => db.close() };
        },
        inbound: this.router,
        clock: d.clock,
        refusals: this.refusals,
        log: d.log.child({ module: "status-sync" }),
      },
    );
    this.keys = new KeySync({
      root: s.root,
      centreKey: d.centreKey,
      db: d.db,
      inbound: this.router,
      apply: (k) => d.gate.setIssuerKeys(k),
      loadFileKeys: d.loadFileKeys,
      refusals: this.refusals,
      log: d.log.child({ module: "key-sync" }),
    });
    this.commands = new CommandHandler({
      root: s.root,
      site: s.site,
      device: s.device,
      skewS: s.skewS,
      centreKey: d.centreKey,
      db: d.db,
      inbound: this.router,
      target: {
        setMode: (m) => d.gate.setMode(m),
        openManually: (detail) => d.gate.openManually(detail),
        sync: () => {
          this.status.resync();
          this.keys.resync();
        },
        reload: () => this.keys.reload(),
      },
      queue: d.queue,
      clock: d.clock,
      refusals: this.refusals,
      log: d.log.child({ module: "commands" }),
    });
  }

  /** Restores what the store holds (lockdown, the centre's key set, a staged snapshot) and subscribes. */
  start(client: MqttClient): void {
    this.router.attach(client);
    this.keys.start();
    this.commands.start();
    this.status.start();
  }

  stop(): void {
    this.status.stop();
    this.commands.stop();
    this.keys.stop();
  }

  health(): CentreFeedsHealth {
    return { status: this.status.health(), keys: this.keys.health(), refusalsSuppressed: this.refusals.suppressed };
  }
}
