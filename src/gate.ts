import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import type { EntryMessage } from "./contract/entry.js";
import { pseudonymize } from "./contract/pseudonym.js";
import { deviceTopic } from "./contract/topics.js";
import { decide, type Decision, type GateMode } from "./core/decide.js";
import type { IssuerKeySet, ReplaySet } from "./core/issuer-keys.js";
import type { Policy } from "./core/policy.js";
import type { Reason } from "./core/reason.js";
import type { StatusRow } from "./core/status-row.js";
import type { Clock } from "./drivers/clock.js";
import type { Relay } from "./drivers/relay/relay.js";
import type { AlarmSink } from "./services/alarms.js";
import type { ScannedCode } from "./drivers/scanner/scanner.js";
import { LatencyStats } from "./services/latency-stats.js";
import { Uuidv7Generator } from "./services/uuidv7.js";
import type { JournalRecord } from "./store/journal.js";
import type { StatusMeta } from "./store/status-table.js";

/** The status table as the gate uses it. */
export interface StatusSource {
  lookup(id: string): StatusRow | undefined;
  meta(): StatusMeta;
  /** Runs `fn` (reads only) with all its reads in one read transaction; absent: `fn` just runs. */
  consistent?<T>(fn: () => T): T;
}

/** Where decisions are put on record. `record` returns only once the entry is durable, or throws. */
export interface EntryJournal {
  record(r: JournalRecord): void;
}

/** Told that the outbox has something new; must return at once. */
export interface UplinkNudge {
  kick(): void;
}

export interface GateSettings {
  readonly site: string;
  readonly device: string;
  readonly door: string;
  readonly topicRoot: string;
  readonly policy: Policy;
  readonly keys: IssuerKeySet;
  readonly skewS: number;
  readonly budgetMs: number;
  readonly dedupMs: number;
  /** When set, entries carry HMAC-SHA256(key, ID) instead of the ID. */
  readonly pseudonymizeKey?: string;
  /** The device's secret that keys the `who` tag of log lines; without it log lines carry no tag. */
  readonly logTagKey?: Uint8Array;
}

export interface GatePorts {
  readonly clock: Clock;
  readonly relay: Relay;
  readonly status: StatusSource;
  readonly journal: EntryJournal;
  readonly replay: ReplaySet;
  readonly uplink: UplinkNudge;
  readonly alarms: AlarmSink;
  readonly log: Logger;
}

/** What became of one scan, for the screen, the demo printer and tests. */
export interface ScanOutcome {
  readonly decision: "allow" | "deny";
  readonly reason: Reason;
  readonly detail: string | null;
  readonly kind: EntryMessage["kind"];
  /** The entry as journaled and published; null when the journal could not take it. */
  readonly entry: EntryMessage | null;
  /** Code received -> decision, ms. */
  readonly decideMs: number;
  /** Code received -> relay commanded (or refusal signalled), ms. */
  readonly totalMs: number;
  /** When the code's last byte arrived, on the gate clock's monotonic scale (the screen measures from it). */
  readonly receivedMono: number;
  /** The name the credential carried, for the screen at the door only; never stored, published or logged. */
  readonly name?: string;
}

/** Per-step timings kept for the bench and the health report. */
export interface GateTimings {
  readonly decide: LatencyStats;
  readonly journal: LatencyStats;
  readonly total: LatencyStats;
}

const HOUR_MS = 3_600_000;

/**
 * A short tag for logs, so one person's scans can be told apart without a whole ID at info level: HMAC-SHA256 under
 * the device's own secret (src/store/log-tag-secret.ts). An unkeyed hash would be reversible (12-digit IDs are few
 * enough to try them all) and the same on every gate; this one is neither. No secret, no tag.
 */
export function logTag(id: string | null, secret: Uint8Array | undefined): string | null {
  if (id === null || secret === undefined) return null;
  return createHmac("sha256", secret).update(id, "utf8").digest("hex").slice(0, 8);
}

/**
 * The gate loop for one door: code -> decision -> journal -> relay -> uplink nudge. Synchronous from code to
 * relay command: nothing on that path waits on the network or on a timer.
 */
export class Gate {
  private mode: GateMode = "normal";
  private lastCode: Buffer | null = null;
  private lastCodeMono = -Infinity;
  private wasStale: boolean | null = null;
  private keys: IssuerKeySet;
  private readonly ids = new Uuidv7Generator();
  private readonly listeners: Array<(o: ScanOutcome) => void> = [];
  readonly timings: GateTimings = {
    decide: new LatencyStats(),
    journal: new LatencyStats(),
    total: new LatencyStats(),
  };

  constructor(
    private readonly settings: GateSettings,
    private readonly ports: GatePorts,
  ) {
    this.keys = settings.keys;
  }

  setMode(mode: GateMode): void {
    this.mode = mode;
  }

  /** `lockdown` while an admin has every code refused. */
  get currentMode(): GateMode {
    return this.mode;
  }

  /** Replaces the pass issuer keys (a key set the centre signed); the next scan uses them. */
  setIssuerKeys(keys: IssuerKeySet): void {
    this.keys = keys;
  }

  /**
   * Opens the door on an admin's command: journals an entry (allow, reason `manual`, no subject) and pulses the
   * relay, journal first like every opening. Throws when the journal cannot take it (then the door stays shut).
   */
  openManually(detail: string): EntryMessage {
    const { clock, log } = this.ports;
    const s = this.settings;
    const nowMs = clock.wallMs();
    const meta = this.ports.status.meta();
    const entry: EntryMessage = {
      id: this.ids.next(nowMs),
      ts: new Date(nowMs).toISOString(),
      site: s.site,
      device: s.device,
      door: s.door,
      decision: "allow",
      reason: "manual",
      kind: "unknown",
      subject: null,
      latencyMs: 0,
      statusVersion: meta.version,
      stale: meta.updatedMs === null || nowMs - meta.updatedMs > s.policy.maxCacheAgeHours * HOUR_MS,
    };
    this.ports.journal.record({ entry, detail, topic: deviceTopic(s.topicRoot, s.site, s.device, "entry"), usedPass: null });
    try {
      this.ports.relay.pulse();
    } catch (e) {
      log.error({ err: (e as Error).message }, "relay fault: door not released");
    }
    this.ports.uplink.kick();
    log.info({ decision: "allow", reason: "manual" }, "opened by command");
    return entry;
  }

  onOutcome(fn: (o: ScanOutcome) => void): void {
    this.listeners.push(fn);
  }

  /** Handles one code from the scanner. Returns null when it repeats the previous code within `dedupMs`. */
  handle(code: ScannedCode): ScanOutcome | null {
    const { clock, log } = this.ports;
    const s = this.settings;
    if (this.isRepeat(code)) {
      log.debug("repeat of the previous code within dedupMs: one scan");
      return null;
    }
    const nowMs = clock.wallMs();
    const status = this.ports.status;
    // The table's meta and the decision's reads (status row, used passes) in one read transaction: nothing in it
    // writes (the stale alarm is raised after).
    const read = (): [StatusMeta, Decision] => [
      status.meta(),
      decide({
        bytes: code.bytes,
        totalBytes: code.totalBytes,
        nowMs,
        mode: this.mode,
        policy: s.policy,
        keys: this.keys,
        skewS: s.skewS,
        replay: this.ports.replay,
        lookup: (id) => status.lookup(id),
      }),
    ];
    const [meta, decided] = status.consistent !== undefined ? status.consistent(read) : read();
    let d: Decision = decided;
    const stale = meta.updatedMs === null || nowMs - meta.updatedMs > s.policy.maxCacheAgeHours * HOUR_MS;
    this.noteStale(stale, meta);

    const decidedMono = clock.monoMs();
    const decideMs = decidedMono - code.receivedMono;
    if (decideMs > s.budgetMs) {
      d = { ...d, decision: "deny", reason: "budget_exceeded", detail: `decision took ${Math.round(decideMs)} ms`, usedPass: null };
    }

    const entry: EntryMessage = {
      id: this.ids.next(nowMs),
      ts: new Date(nowMs).toISOString(),
      site: s.site,
      device: s.device,
      door: s.door,
      decision: d.decision,
      reason: d.reason,
      kind: d.kind,
      subject: d.subject === null || s.pseudonymizeKey === undefined ? d.subject : pseudonymize(d.subject, s.pseudonymizeKey),
      latencyMs: Math.round(decideMs * 1000) / 1000,
      statusVersion: meta.version,
      stale,
    };

    let journaled: EntryMessage | null = entry;
    try {
      this.ports.journal.record({
        entry,
        detail: d.detail,
        topic: deviceTopic(s.topicRoot, s.site, s.device, "entry"),
        usedPass: d.usedPass === null ? null : { jti: d.usedPass.jti, expiresS: d.usedPass.expS + s.skewS },
      });
    } catch (e) {
      // Journal before the door: an entry that cannot be put on record does not open it.
      log.error({ err: (e as Error).message }, "journal unavailable: refusing");
      journaled = null;
      d = { ...d, decision: "deny", reason: "journal_unavailable", detail: (e as Error).message, usedPass: null };
    }
    const journaledMono = clock.monoMs();

    if (d.decision === "allow") {
      try {
        this.ports.relay.pulse();
      } catch (e) {
        log.error({ err: (e as Error).message }, "relay fault: door not released");
      }
    }
    const totalMs = clock.monoMs() - code.receivedMono;
    if (journaled !== null) this.ports.uplink.kick();

    this.timings.decide.add(decideMs);
    this.timings.journal.add(journaledMono - decidedMono);
    this.timings.total.add(totalMs);
    // The tag is an HMAC: computed only when the line is written.
    if (log.isLevelEnabled("info")) {
      log.info(
        { decision: d.decision, reason: d.reason, kind: d.kind, who: logTag(d.subject, s.logTagKey), ms: Math.round(totalMs * 100) / 100 },
        d.decision === "allow" ? "allowed" : "denied",
      );
    }
    if (d.detail !== null) log.debug({ detail: d.detail }, "decision detail");
    const outcome: ScanOutcome = {
      decision: d.decision,
      reason: d.reason,
      detail: d.detail,
      kind: d.kind,
      entry: journaled,
      decideMs,
      totalMs,
      receivedMono: code.receivedMono,
      ...(d.name !== undefined ? { name: d.name } : {}),
    };
    for (const fn of this.listeners) fn(outcome);
    return outcome;
  }

  private isRepeat(code: ScannedCode): boolean {
    const repeat =
      this.lastCode !== null &&
      code.receivedMono - this.lastCodeMono < this.settings.dedupMs &&
      this.lastCode.equals(code.bytes);
    // Sliding: a card held under a scanner in continuous mode stays one scan.
    this.lastCode = code.bytes;
    this.lastCodeMono = code.receivedMono;
    return repeat;
  }

  private noteStale(stale: boolean, meta: StatusMeta): void {
    if (stale === this.wasStale) return;
    this.wasStale = stale;
    if (stale) {
      const age = meta.updatedMs === null ? "never loaded" : `loaded ${new Date(meta.updatedMs).toISOString()}`;
      this.ports.alarms.raise(
        "stale_cache",
        `status table version ${meta.version} (${age}) is older than ${this.settings.policy.maxCacheAgeHours} h; entries are marked stale`,
      );
    }
  }
}
