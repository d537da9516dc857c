/**
 * The composition root: builds the gate's parts from a Config and wires them together. Everything else receives
 * what it needs; only this file knows which implementation is in use.
 *
 * The gate is a list of parts (src/services/lifecycle.ts) started in order and stopped in reverse; constructors
 * here and in the parts do no I/O. Order (docs/gate.md): relay (locked) -> store -> gate -> [door, indicator] ->
 * housekeeping -> site-replay -> uplink -> centre (status and key sync, commands) -> scanner -> health -> ready
 * (log "gate started", sd_notify READY=1, watchdog). A stop switches the relay off
 * first, then stops the parts in reverse.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "./config/config.js";
import { ConfigError } from "./config/config-error.js";
import type { IssuerKeySet } from "./core/issuer-keys.js";
import { parseJwks } from "./core/jwks.js";
import { systemClock, type CancelTimer, type Clock } from "./drivers/clock.js";
import type { BaseRelay, Relay } from "./drivers/relay/relay.js";
import type { Scanner, ScannerState } from "./drivers/scanner/scanner.js";
import { buildDoorContact, buildGpio, buildRelay, buildScanner } from "./drivers/driver-factory.js";
import type { GpioChip } from "./drivers/gpio/gpio.js";
import { Gate, type EntryJournal, type ScanOutcome } from "./gate.js";
import type { SqliteDb } from "./store/database.js";
import { openGateStore, type GateStore } from "./store/gate-store.js";
import type { Outbox } from "./store/outbox.js";
import type { StatusTable } from "./store/status-table.js";
import type { TrustedClock } from "./store/trusted-clock.js";
import { MqttSession } from "./uplink/mqtt-session.js";
import { OutboxPublisher } from "./uplink/outbox-publisher.js";
import { QRGATE_VERSION } from "./version.js";
import { OutboxAlarms } from "./services/alarms.js";
import { DeviceFaults, type DeviceCondition } from "./services/device-faults.js";
import { DoorMonitor, type DoorStatus } from "./services/door-monitor.js";
import { Indicator } from "./services/indicator.js";
import { Lifecycle, type Part, type PartPosition } from "./services/lifecycle.js";
import { Periodic } from "./services/periodic.js";
import { ClockGuard } from "./services/clock-guard.js";
import { Retention } from "./services/retention.js";
import { SystemTimeSyncProbe, type TimeSyncProbe } from "./drivers/time-sync-probe.js";
import { loadOrCreateLogTagSecret } from "./store/log-tag-secret.js";
import type { ServiceNotifier } from "./services/sd-notify.js";
import { KioskScreen } from "./kiosk/kiosk-screen.js";
import type { KioskStatusEvent } from "./kiosk/kiosk-events.js";
import { dirname } from "node:path";
import type { HealthMessage } from "./contract/health.js";
import { deviceTopic } from "./contract/topics.js";
import { AlarmBoard } from "./services/alarm-board.js";
import { diskFreeBytes } from "./services/disk-free.js";
import { HealthReporter, type HealthReadings } from "./uplink/health-reporter.js";
import { SiteReplay } from "./uplink/site-replay.js";
import { loadCentrePublicKey } from "./issuer/centre-key.js";
import { KeyFileError } from "./issuer/key-files.js";
import { CentreFeeds } from "./uplink/centre-feeds.js";

const HOUR_MS = 3_600_000;
/** How often the trusted time floor is written: a power cut loses at most this much of it. */
const TRUST_PERSIST_MS = 60_000;
/**
 * Acknowledged outbox rows are deleted with the next entry's transaction, or this long after the first of them at the
 * latest: at a door with a scan every few seconds most deletes then cost no commit (and on a device no disk sync) of
 * their own. A crash re-sends what was acknowledged in this window: duplicates the collector drops, never a loss.
 */
const ACK_FLUSH_MS = 5_000;
/** While the journal is failing, how often a small durable write checks whether it works again. */
const JOURNAL_PROBE_MS = 5_000;
/** The settings row the journal probe writes (its value is only the time of the probe). */
const JOURNAL_PROBE_SETTING = "health.journal_probe_ms";

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

/** What the app can be given instead of what the config names: tests and the bench use these. */
export interface GateAppOptions {
  /** The base clock (default: the system's). Wall time goes through the store's TrustedClock once it is open. */
  readonly clock?: Clock;
  /** Told READY/STOPPING and fed watchdog pings (default: nobody). */
  readonly notifier?: ServiceNotifier;
  /** Replaces the relay the config names (a test's failing relay). */
  readonly relay?: BaseRelay;
  /** Replaces the scanner the config names. */
  readonly scanner?: Scanner;
  /** Replaces the GPIO lines the config names (tests: fake lines for the relay, door contact and indicator). */
  readonly gpio?: GpioChip;
  /** Says whether the system clock is synchronised (default: asks timesyncd, the kernel, chrony, ntpd). */
  readonly timeSync?: TimeSyncProbe;
  /** Free bytes on the file system of the store's folder, for health (default: `statfs` on it, each report). */
  readonly diskFree?: (dir: string) => Promise<number | null>;
}

const silentNotifier: ServiceNotifier = {
  enabled: false,
  ready: () => undefined,
  stopping: () => undefined,
  status: () => undefined,
  startWatchdog: () => undefined,
  close: () => undefined,
};

/** A gate: its parts, and what tests, the demo and the bench need to reach. */
export class GateApp {
  readonly bootId = randomUUID();
  readonly scanner: Scanner;
  readonly relay: BaseRelay;
  readonly session: MqttSession;
  readonly publisher: OutboxPublisher;
  readonly alarms: OutboxAlarms;
  readonly faults: DeviceFaults;
  /** Active alarms (for health) in front of `alarms`: every alarm raised goes through it. */
  readonly alarmBoard: AlarmBoard;
  readonly health: HealthReporter;
  /** Single use of passes across the site (docs/contract.md §5.6). */
  readonly siteReplay: SiteReplay;
  private scannerState = "starting";
  private lastEntry: HealthMessage["lastEntry"] = null;
  private startedMono = 0;
  /** The door contact's watcher; null when `door` has no contact. */
  readonly doorMonitor: DoorMonitor | null;
  readonly indicator: Indicator;
  /**
   * Monotonic time from the base clock; wall time from the store's TrustedClock once the store is open (the
   * base clock's before, which only start-up logs see).
   */
  readonly clock: Clock;
  private readonly periodic: Periodic;
  private readonly lifecycle: Lifecycle;
  private readonly notifier: ServiceNotifier;
  private store: GateStore | null = null;
  private gateRef: Gate | null = null;
  private readonly scannerStateListeners: Array<(s: ScannerState, detail: string) => void> = [];
  private readonly outcomeListeners: Array<(o: ScanOutcome) => void> = [];
  private stopping: Promise<void> | null = null;
  private clockGuard: ClockGuard | null = null;
  private retention: Retention | null = null;
  private condition: DeviceCondition = { state: "online", faults: [] };
  private scannerDetail = "";
  /** The screen at the door, when `kiosk.enabled`. */
  readonly kiosk: KioskScreen | null;
  private feedsRef: CentreFeeds | null = null;

  /** Builds every part; touches no file, device or network (that is `start`). */
  constructor(
    readonly config: Config,
    private readonly log: Logger,
    opts: GateAppOptions = {},
  ) {
    const base = opts.clock ?? systemClock;
    this.clock = {
      monoMs: () => base.monoMs(),
      wallMs: () => this.store?.clock.wallMs() ?? base.wallMs(),
      setTimer: (ms, fn) => base.setTimer(ms, fn),
    };
    this.notifier = opts.notifier ?? silentNotifier;
    this.lifecycle = new Lifecycle(log.child({ module: "lifecycle" }));
    this.periodic = new Periodic(this.clock, log);
    // Drivers time pulses and codes on the monotonic clock only, which needs no store.
    const gpio = opts.gpio ?? buildGpio(config, this.clock, log);
    this.relay = opts.relay ?? buildRelay(config, this.clock, log, gpio);
    this.scanner = opts.scanner ?? buildScanner(config, this.clock, log);
    this.session = new MqttSession(
      config.mqtt,
      { site: config.site, device: config.device, version: QRGATE_VERSION, bootId: this.bootId },
      () => this.clock.wallMs(),
      log.child({ module: "mqtt" }),
    );
    this.publisher = new OutboxPublisher(
      { after: (seq, limit) => this.openStore().outbox.after(seq, limit), removeMany: (seqs) => this.openStore().outbox.removeMany(seqs) },
      { window: 64, ackFlushMs: ACK_FLUSH_MS },
      this.clock,
      log.child({ module: "uplink" }),
    );
    this.alarms = new OutboxAlarms(
      { root: config.mqtt.root, site: config.site, device: config.device },
      { queueMessage: (topic, payload, createdMs) => this.openStore().journal.queueMessage(topic, payload, createdMs) },
      this.clock,
      () => this.publisher.kick(),
      log.child({ module: "alarm" }),
      this.session,
    );
    this.faults = new DeviceFaults(this.alarms, log.child({ module: "faults" }));
    this.alarmBoard = new AlarmBoard(this.alarms, () => this.clock.wallMs());
    this.faults.onChange((c) => {
      this.condition = c;
      // The faults sent their events directly; health lists them while they last.
      for (const kind of ["journal_unavailable", "relay_fault"] as const) {
        this.alarmBoard.setCondition(kind, c.faults.includes(kind), c.reason === kind ? (c.detail ?? kind) : kind, false);
      }
      this.session.setCondition(c);
      this.notifier.status(c.state === "degraded" ? `degraded: ${c.reason ?? ""}: ${c.detail ?? ""}` : "gate running");
      this.watchJournal(c.faults.includes("journal_unavailable"));
    });
    this.session.onConnect(() => {
      const client = this.session.client;
      if (client !== null) {
        this.publisher.attach(client);
        this.siteReplay.attach(client);
      }
      this.publisher.kick();
      this.health.now();
    });
    this.outcomeListeners.push((o) => {
      if (o.entry !== null) this.lastEntry = { ts: o.entry.ts, decision: o.entry.decision, reason: o.entry.reason };
    });

    this.lifecycle.add({ name: "relay", start: () => this.relay.start(), stop: () => this.relay.stop() });
    this.lifecycle.add({
      name: "store",
      start: () => {
        this.store = openGateStore(config.store.path, base);
      },
      stop: () => this.closeStore(),
    });
    this.lifecycle.add({ name: "gate", start: () => this.buildGate(), stop: () => undefined });
    this.doorMonitor = this.buildDoorMonitor(gpio);
    this.indicator = new Indicator(gpio, config.indicator, this.clock, log.child({ module: "indicator" }));
    this.wireDoorAndIndicator();
    const timeSync = opts.timeSync ?? new SystemTimeSyncProbe();
    this.siteReplay = new SiteReplay(
      { root: config.mqtt.root, site: config.site, device: config.device },
      {
        store: { addRemote: (items) => this.openStore().usedPasses.addRemote(items) },
        queue: (topic, payload, createdMs) => this.openStore().journal.queueMessage(topic, payload, createdMs),
        kick: () => this.publisher.kick(),
        alarms: this.alarmBoard,
        clock: this.clock,
        log: log.child({ module: "site-replay" }),
      },
    );
    this.health = new HealthReporter(
      {
        read: () => this.healthReadings(),
        diskFree: () => (opts.diskFree ?? diskFreeBytes)(dirname(config.store.path)),
        timeSynchronised: () => timeSync.isSynchronized(),
        alarms: this.alarmBoard,
        publish: (payload) => this.publishHealth(payload),
        clock: this.clock,
        log: log.child({ module: "health" }),
      },
      { periodS: config.health.periodS, thresholds: { diskLowBytes: config.health.diskLowMb * 1_048_576 } },
    );
    this.lifecycle.add({
      name: "housekeeping",
      start: () => {
        const store = this.openStore();
        // The guard persists the trusted time every TRUST_PERSIST_MS and raises clock_jump; retention is bounded
        // against a clock that jumped (src/services/retention.ts).
        const guard = new ClockGuard(store.clock, timeSync, this.alarmBoard, log.child({ module: "clock" }));
        this.clockGuard = guard;
        this.retention = new Retention(store.journal, store.usedPasses, store.clock, log.child({ module: "retention" }), {
          retentionDays: config.store.retentionDays,
        });
        guard.start();
        this.housekeeping();
        this.periodic.every(HOUR_MS, () => this.housekeeping(), "housekeeping");
        this.periodic.every(TRUST_PERSIST_MS, () => guard.tick(), "trusted time");
      },
      stop: () => {
        this.clockGuard?.stop();
        this.periodic.cancelAll();
      },
    });
    this.lifecycle.add({ name: "site-replay", start: () => undefined, stop: () => this.siteReplay.stop() });
    this.lifecycle.add({
      name: "uplink",
      start: () => this.session.start(),
      stop: async () => {
        this.publisher.stop();
        await this.session.stop();
      },
    });
    this.lifecycle.add({
      name: "centre",
      start: () => this.startFeeds(),
      stop: () => {
        this.feedsRef?.stop();
        this.feedsRef = null;
      },
    });
    this.lifecycle.add({
      name: "scanner",
      start: () =>
        this.scanner.start({
          code: (c) => {
            this.gate.handle(c);
          },
          state: (s, detail) => {
            this.scannerState = s;
            this.scannerDetail = detail;
            if (s === "lost") this.alarmBoard.raise("scanner_lost", detail);
            for (const fn of this.scannerStateListeners) fn(s, detail);
          },
        }),
      stop: () => this.scanner.stop(),
    });
    this.kiosk = config.kiosk.enabled
      ? new KioskScreen(config.kiosk, { onOutcome: (fn) => this.onOutcome(fn), status: () => this.kioskStatus() }, this.clock, log.child({ module: "kiosk" }))
      : null;
    // Before the scanner: the first person at the door already sees their result.
    if (this.kiosk !== null) this.lifecycle.add(this.kiosk, { before: "scanner" });
    this.lifecycle.add({
      name: "health",
      start: () => {
        this.startedMono = this.clock.monoMs();
        this.health.start();
      },
      stop: () => this.health.stop(),
    });
    this.lifecycle.add({
      name: "ready",
      start: () => {
        const backlog = this.openStore().outbox.depth();
        this.log.info(
          { site: config.site, device: config.device, door: config.door, scanner: this.scanner.name, outbox: backlog.rows, status: this.status.meta(), parts: this.lifecycle.order },
          "gate started",
        );
        this.notifier.ready("gate started");
        this.notifier.startWatchdog();
      },
      stop: () => {
        this.notifier.stopping();
        this.notifier.close();
      },
    });
  }

  /** The door's position and alarms, for state and health; null when no door contact is configured. */
  get door(): DoorStatus | null {
    return this.doorMonitor?.status ?? null;
  }

  /** Adds a part (a feature with start/stop) before or after a named one, or last. Only before `start`. */
  use(part: Part, at?: PartPosition): void {
    this.lifecycle.add(part, at);
  }

  /** Part names in start order. */
  get parts(): readonly string[] {
    return this.lifecycle.order;
  }

  /** Runs `fn` every `ms` until the app stops; one pending timer per task, however long it runs. */
  every(ms: number, fn: () => void, name?: string): CancelTimer {
    return this.periodic.every(ms, fn, name);
  }

  /** Pending periodic timers (one per task): flat over time. */
  get timerCount(): number {
    return this.periodic.size;
  }

  get gate(): Gate {
    if (this.gateRef === null) throw new Error("GateApp: the gate is not started");
    return this.gateRef;
  }

  get db(): SqliteDb {
    return this.openStore().db;
  }

  get status(): StatusTable {
    return this.openStore().status;
  }

  get outbox(): Outbox {
    return this.openStore().outbox;
  }

  get trustedClock(): TrustedClock {
    return this.openStore().clock;
  }

  onScannerState(fn: (s: ScannerState, detail: string) => void): void {
    this.scannerStateListeners.push(fn);
  }

  /** Every scan's outcome; may be registered before `start`. */
  onOutcome(fn: (o: ScanOutcome) => void): void {
    this.outcomeListeners.push(fn);
    this.gateRef?.onOutcome(fn);
  }

  /** Starts the parts in order. If one fails, those already started are stopped (relay off) and the error thrown. */
  async start(): Promise<void> {
    try {
      await this.lifecycle.start();
    } catch (e) {
      this.failSecure();
      throw e;
    }
  }

  /** Waits (bounded) until the outbox is drained: everything journaled has its PUBACK. */
  drained(timeoutMs: number): Promise<boolean> {
    return this.publisher.whenIdle(timeoutMs);
  }

  /** Orderly stop: relay off first, then every part in reverse start order. Bounded; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.failSecure();
      await this.lifecycle.stop();
      this.log.info("gate stopped");
    })();
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

  /** What the screen at the door shows besides decisions. */
  private kioskStatus(): KioskStatusEvent {
    const config = this.config;
    const meta = this.store?.status.meta() ?? { version: 0, updatedMs: null, rows: 0 };
    const maxAgeMs = config.policy.maxCacheAgeHours * HOUR_MS;
    const online = this.session.connected;
    let broker: string;
    try {
      const u = new URL(config.mqtt.url);
      broker = `${online ? "connected" : "disconnected"} (${u.protocol}//${u.host})`;
    } catch {
      broker = online ? "connected" : "disconnected";
    }
    return {
      online,
      degraded: this.condition.state === "degraded" ? (this.condition.reason ?? "fault") : null,
      stale: meta.updatedMs === null || this.clock.wallMs() - meta.updatedMs > maxAgeMs,
      lockdown: this.gateRef?.currentMode === "lockdown",
      tech: {
        site: config.site,
        device: config.device,
        door: config.door,
        version: QRGATE_VERSION,
        broker,
        lastSync: meta.updatedMs === null ? null : new Date(meta.updatedMs).toISOString(),
        statusVersion: meta.version,
        scanner: `${this.scanner.name}: ${this.scannerState}${this.scannerDetail !== "" ? ` (${this.scannerDetail})` : ""}`,
        relay: `${config.relay.type}: ${this.relay.isOn ? "released" : "locked"}${this.condition.faults.includes("relay_fault") ? ", fault" : ""}`,
        doorContact: this.doorMonitor === null ? null : `${this.doorMonitor.status.position}${this.doorMonitor.status.forced ? " (forced)" : ""}`,
      },
    };
  }

  private openStore(): GateStore {
    if (this.store === null) throw new Error("GateApp: the store is not open");
    return this.store;
  }

  private closeStore(): void {
    const store = this.store;
    if (store === null) return;
    try {
      store.clock.persist();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "could not record the trusted time at stop");
    }
    this.store = null;
    store.db.close();
  }

  private journalProbe: CancelTimer | null = null;

  /**
   * While the journal fails, a small durable write every few seconds finds out when it works again (space freed),
   * so the state goes back to `online` without waiting for the next person at the door.
   */
  private watchJournal(failing: boolean): void {
    if (!failing) {
      this.journalProbe?.();
      this.journalProbe = null;
      return;
    }
    this.journalProbe ??= this.every(
      JOURNAL_PROBE_MS,
      () => {
        const store = this.store;
        if (store === null) return;
        try {
          store.settings.set(JOURNAL_PROBE_SETTING, store.clock.wallMs());
        } catch {
          return; // still failing
        }
        this.faults.resolve("journal_unavailable");
      },
      "journal probe",
    );
  }

  private buildGate(): void {
    const store = this.openStore();
    const config = this.config;
    const keys = loadIssuerKeys(config.passes.issuerKeys);
    const faults = this.faults;
    // A refusal that cannot be journaled and a door that does not open are told from memory at once (the
    // store may be what failed), and clear on the next success.
    const journal: EntryJournal = {
      record: (r) => {
        // One transaction, one commit: the entry, its message, the message telling the site of a pass used here, and
        // the delete of the rows the broker has acknowledged since the last one.
        const delivered = this.publisher.takeAcked();
        let rows;
        try {
          rows = store.journal.record(r, r.usedPass === null ? [] : [this.siteReplay.usedMessage(r.usedPass.jti, r.usedPass.expiresS)], delivered);
        } catch (e) {
          this.publisher.untake(delivered);
          faults.report("journal_unavailable", `entries cannot be journaled, everyone is refused: ${(e as Error).message}`);
          throw e;
        }
        // Sent from memory when nothing else waits (no read back); the gate's nudge after the relay sends the rest.
        this.publisher.written(rows);
        faults.resolve("journal_unavailable");
      },
    };
    const relay = this.relay;
    const watchedRelay: Relay = {
      pulse: () => {
        try {
          relay.pulse();
        } catch (e) {
          faults.report("relay_fault", `the door relay failed on an allow: ${(e as Error).message}`);
          throw e;
        }
        faults.resolve("relay_fault");
      },
      off: () => relay.off(),
      get isOn() {
        return relay.isOn;
      },
    };
    const gate = new Gate(
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
        logTagKey: loadOrCreateLogTagSecret(store.settings),
        ...(config.pseudonymize !== undefined ? { pseudonymizeKey: config.pseudonymize.key } : {}),
      },
      {
        clock: store.clock,
        relay: watchedRelay,
        status: store.status,
        journal,
        replay: store.usedPasses,
        // The journal above has told the publisher what it wrote: the gate's nudge reads the outbox only if needed.
        uplink: { kick: () => this.publisher.nudge() },
        alarms: this.alarmBoard,
        log: this.log.child({ module: "gate" }),
      },
    );
    for (const fn of this.outcomeListeners) gate.onOutcome(fn);
    this.gateRef = gate;
  }

  /** The gate as health reports it, read through getters at each tick. */
  private healthReadings(): HealthReadings {
    const store = this.openStore();
    const total = this.gateRef?.timings.total;
    return {
      site: this.config.site,
      device: this.config.device,
      version: QRGATE_VERSION,
      bootId: this.bootId,
      uptimeS: (this.clock.monoMs() - this.startedMono) / 1000,
      outbox: store.outbox.depth(),
      status: store.status.meta(),
      maxCacheAgeHours: this.config.policy.maxCacheAgeHours,
      scan: { p50: total?.percentile(50) ?? null, p99: total?.percentile(99) ?? null, count: total?.size ?? 0 },
      scanner: this.scannerState,
      relay: this.relayState(),
      door: this.doorState(),
      lastEntry: this.lastEntry,
    };
  }

  /** The relay as health reports it; a driver with its own fault states reports them here. */
  private relayState(): string {
    return this.faults.condition().faults.includes("relay_fault") ? "fault" : this.relay.isOn ? "on" : "off";
  }

  /** The door contact's state for health (`open`, `closed`, `forced`, `held`, …); null without a door contact. */
  private doorState(): string | null {
    const d = this.doorMonitor?.status;
    if (d === undefined) return null;
    return d.forced ? "forced" : d.held ? "held" : String(d.position);
  }

  private publishHealth(payload: string): boolean {
    const client = this.session.client;
    if (client === null || !client.connected) return false;
    const topic = deviceTopic(this.config.mqtt.root, this.config.site, this.config.device, "health");
    client.publish(topic, payload, { qos: 0, retain: true }, (e) => {
      if (e) this.log.debug({ err: e.message }, "health not published");
    });
    return true;
  }

  /** Status sync, issuer key sync and commands from the centre (docs/contract.md §5.7); null without `centre.publicKey`. */
  get feeds(): CentreFeeds | null {
    return this.feedsRef;
  }

  private startFeeds(): void {
    const config = this.config;
    const client = this.session.client;
    if (config.centre.publicKey === undefined || client === null) {
      this.log.info("centre.publicKey not set: no status sync, key sync or commands from the centre");
      return;
    }
    let centreKey;
    try {
      centreKey = loadCentrePublicKey(config.centre.publicKey);
    } catch (e) {
      if (e instanceof KeyFileError) throw new ConfigError(`centre.publicKey ${config.centre.publicKey}`, [e.message]);
      throw e;
    }
    const store = this.openStore();
    const m = config.mqtt;
    const feeds = new CentreFeeds(
      { root: m.root, site: config.site, device: config.device, skewS: config.passes.skewS, gapWaitMs: config.centre.gapWaitMs, storePath: config.store.path },
      {
        centreKey,
        db: store.db,
        gate: this.gate,
        clock: store.clock,
        alarms: this.alarmBoard,
        queue: (topic, payload) => {
          store.journal.queueMessage(topic, payload, store.clock.wallMs());
          this.publisher.kick();
        },
        loadFileKeys: () => loadIssuerKeys(config.passes.issuerKeys),
        log: this.log,
      },
    );
    feeds.start(client);
    this.feedsRef = feeds;
  }

  private buildDoorMonitor(gpio: GpioChip): DoorMonitor | null {
    const contact = buildDoorContact(this.config, gpio, this.clock, this.log);
    const d = this.config.doorContact;
    if (contact === null || d === undefined) return null;
    return new DoorMonitor(
      contact,
      // The allowed person opens the door while the strike is released, seen up to a debounce later.
      { heldOpenMs: d.heldOpenMs, allowWindowMs: this.config.relay.pulseMs + d.debounceMs },
      () => this.relay.isOn,
      this.alarmBoard,
      this.clock,
      this.log.child({ module: "door" }),
    );
  }

  /** The door monitor and the indicator are parts of their own, told of each outcome, fault and scanner change. */
  private wireDoorAndIndicator(): void {
    const door = this.doorMonitor;
    const indicator = this.indicator;
    if (door !== null) this.lifecycle.add({ name: "door", start: () => door.start(), stop: () => door.stop() });
    if (indicator.enabled) this.lifecycle.add({ name: "indicator", start: () => indicator.start(), stop: () => indicator.stop() });
    this.onOutcome((o) => {
      if (o.decision === "allow") door?.allowed();
      indicator.signal(o.decision);
    });
    this.faults.onChange((c) => indicator.setFault("device", c.state === "degraded"));
    this.onScannerState((s) => indicator.setFault("scanner", s !== "connected"));
  }

  private housekeeping(): void {
    this.retention?.run();
  }
}
