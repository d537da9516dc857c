/**
 * The composition root: builds the gate's drivers, store and uplink from a Config and wires them together.
 * Everything else receives what it needs; only this file knows which implementation is in use.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "./config/config.js";
import { ConfigError } from "./config/config-error.js";
import type { IssuerKeySet } from "./core/issuer-keys.js";
import { parseJwks } from "./core/jwks.js";
import { systemClock, type CancelTimer, type Clock } from "./drivers/clock.js";
import type { BaseRelay } from "./drivers/relay/relay.js";
import { SimRelay } from "./drivers/relay/sim-relay.js";
import type { Scanner, ScannerState } from "./drivers/scanner/scanner.js";
import { SerialScanner } from "./drivers/scanner/serial-scanner.js";
import { SimScanner } from "./drivers/scanner/sim-scanner.js";
import { StdinScanner } from "./drivers/scanner/stdin-scanner.js";
import { Gate } from "./gate.js";
import { openDatabase, type SqliteDb } from "./store/database.js";
import { Journal } from "./store/journal.js";
import { Outbox } from "./store/outbox.js";
import { Settings } from "./store/settings.js";
import { StatusTable } from "./store/status-table.js";
import { TrustedClock } from "./store/trusted-clock.js";
import { UsedPasses } from "./store/used-passes.js";
import { MqttSession } from "./uplink/mqtt-session.js";
import { OutboxPublisher } from "./uplink/outbox-publisher.js";
import { QRGATE_VERSION } from "./version.js";
import { OutboxAlarms } from "./services/alarms.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** How often the trusted time floor is written: a power cut loses at most this much of it. */
const TRUST_PERSIST_MS = 60_000;

/** Loads the pass issuer key set named by `passes.issuerKeys`; no file means no pass is accepted. */
export function loadIssuerKeys(path: string | undefined): IssuerKeySet {
  if (path === undefined) return new Map();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`passes.issuerKeys ${path}`, [`cannot read the key set: ${(e as Error).message}`]);
  }
  const keys = parseJwks(json);
  if (!keys.ok) throw new ConfigError(`passes.issuerKeys ${path}`, keys.error);
  return keys.value;
}

function buildScanner(c: Config, clock: Clock, log: Logger): Scanner {
  const framing = {
    suffix: c.scanner.suffix,
    interByteTimeoutMs: c.scanner.interByteTimeoutMs,
    maxCodeBytes: c.scanner.maxCodeBytes,
  };
  const slog = log.child({ module: "scanner" });
  switch (c.scanner.type) {
    case "serial":
      return new SerialScanner(
        { ...framing, path: c.scanner.path as string, baudRate: c.scanner.baudRate, retryMs: c.scanner.retryMs },
        clock,
        slog,
      );
    case "stdin":
      return new StdinScanner(framing, clock, slog);
    case "sim":
      return new SimScanner(clock);
    case "hid":
    case "camera":
      throw new ConfigError("scanner.type", [`scanner type '${c.scanner.type}' is not available in qrgate ${QRGATE_VERSION} yet; use serial or stdin`]);
  }
}

function buildRelay(c: Config, clock: Clock, log: Logger): BaseRelay {
  const timing = { pulseMs: c.relay.pulseMs, maxPulseMs: c.relay.maxPulseMs, activeLow: c.relay.activeLow };
  switch (c.relay.type) {
    case "sim":
      return new SimRelay(timing, clock, log.child({ module: "relay" }));
    case "gpio":
      throw new ConfigError("relay.type", [`relay type 'gpio' is not available in qrgate ${QRGATE_VERSION} yet; use sim`]);
  }
}

/** A running gate and what tests, the demo and the bench need to reach. */
export class GateApp {
  readonly bootId = randomUUID();
  readonly db: SqliteDb;
  readonly status: StatusTable;
  readonly outbox: Outbox;
  readonly gate: Gate;
  readonly scanner: Scanner;
  readonly relay: BaseRelay;
  readonly session: MqttSession;
  readonly publisher: OutboxPublisher;
  readonly clock: TrustedClock;
  readonly alarms: OutboxAlarms;
  private readonly journal: Journal;
  private readonly usedPasses: UsedPasses;
  private readonly timers: CancelTimer[] = [];
  private readonly scannerStateListeners: Array<(s: ScannerState, detail: string) => void> = [];
  private stopping: Promise<void> | null = null;

  /** Builds everything; opens the store (the one I/O a constructor here does, so a bad path fails at once). */
  constructor(
    readonly config: Config,
    private readonly log: Logger,
    baseClock: Clock = systemClock,
  ) {
    const keys = loadIssuerKeys(config.passes.issuerKeys);
    this.db = openDatabase(config.store.path, { synchronous: "FULL" });
    const settings = new Settings(this.db);
    this.clock = new TrustedClock(baseClock, settings);
    this.status = new StatusTable(this.db);
    this.journal = new Journal(this.db);
    this.outbox = new Outbox(this.db);
    this.usedPasses = new UsedPasses(this.db);
    this.relay = buildRelay(config, this.clock, log);
    this.scanner = buildScanner(config, this.clock, log);
    this.session = new MqttSession(
      config.mqtt,
      { site: config.site, device: config.device, version: QRGATE_VERSION, bootId: this.bootId },
      () => this.clock.wallMs(),
      log.child({ module: "mqtt" }),
    );
    this.publisher = new OutboxPublisher(this.outbox, { window: 64, ackFlushMs: 50 }, this.clock, log.child({ module: "uplink" }));
    this.alarms = new OutboxAlarms(
      { root: config.mqtt.root, site: config.site, device: config.device },
      this.journal,
      this.clock,
      () => this.publisher.kick(),
      log.child({ module: "alarm" }),
    );
    this.gate = new Gate(
      {
        site: config.site,
        device: config.device,
        door: config.door,
        topicRoot: config.mqtt.root,
        policy: config.policy,
        keys,
        skewS: config.passes.skewS,
        budgetMs: config.budgetMs,
        dedupMs: config.dedupMs,
        ...(config.pseudonymize !== undefined ? { pseudonymizeKey: config.pseudonymize.key } : {}),
      },
      {
        clock: this.clock,
        relay: this.relay,
        status: this.status,
        journal: this.journal,
        replay: this.usedPasses,
        uplink: this.publisher,
        alarms: this.alarms,
        log: log.child({ module: "gate" }),
      },
    );
  }

  onScannerState(fn: (s: ScannerState, detail: string) => void): void {
    this.scannerStateListeners.push(fn);
  }

  async start(): Promise<void> {
    // Fail-secure: the door is locked before anything can ask to open it.
    this.relay.init();
    this.housekeeping();
    this.every(HOUR_MS, () => this.housekeeping());
    this.every(TRUST_PERSIST_MS, () => this.clock.persist());
    this.session.onConnect(() => {
      const client = this.session.client;
      if (client !== null) this.publisher.attach(client);
      this.publisher.kick();
    });
    await this.session.start();
    await this.scanner.start({
      code: (c) => {
        this.gate.handle(c);
      },
      state: (s, detail) => {
        if (s === "lost") this.alarms.raise("scanner_lost", detail);
        for (const fn of this.scannerStateListeners) fn(s, detail);
      },
    });
    const backlog = this.outbox.depth();
    this.log.info(
      { site: this.config.site, device: this.config.device, door: this.config.door, scanner: this.scanner.name, outbox: backlog.rows, status: this.status.meta() },
      "gate started",
    );
  }

  /** Waits (bounded) until the outbox is drained: everything journaled has its PUBACK. */
  drained(timeoutMs: number): Promise<boolean> {
    return this.publisher.whenIdle(timeoutMs);
  }

  /** Orderly stop: relay off first, then scanner, uplink and store. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** For crash paths: locks the door synchronously, whatever state the rest is in. */
  failSecure(): void {
    try {
      this.relay.off();
    } catch (e) {
      this.log.fatal({ err: (e as Error).message }, "could not switch the relay off");
    }
  }

  private async doStop(): Promise<void> {
    this.failSecure();
    for (const cancel of this.timers.splice(0)) cancel();
    await this.scanner.stop();
    this.publisher.stop();
    await this.session.stop();
    this.clock.persist();
    this.db.close();
    this.log.info("gate stopped");
  }

  private every(ms: number, fn: () => void): void {
    const run = (): void => {
      try {
        fn();
      } catch (e) {
        this.log.error({ err: (e as Error).message }, "periodic task failed");
      }
      this.timers.push(this.clock.setTimer(ms, run));
    };
    this.timers.push(this.clock.setTimer(ms, run));
  }

  private housekeeping(): void {
    const now = this.clock.wallMs();
    const purged = this.journal.purgeOlderThan(now - this.config.store.retentionDays * DAY_MS);
    const passes = this.usedPasses.purgeExpired(Math.floor(now / 1000));
    if (purged > 0 || passes > 0) this.log.info({ entries: purged, usedPasses: passes }, "retention purge");
  }
}
