/**
 * Status sync, the gate's side (docs/contract.md §5.7): keeps the local status table equal to what the centre
 * publishes for this site, from a retained signed manifest and its retained chunks (a snapshot) and retained signed
 * deltas numbered from that snapshot.
 *
 * - A snapshot is staged chunk by chunk in a side table, a few thousand rows at a time with a turn of the event loop
 *   in between, so a scan never waits for more than one small batch; the old table decides until the staged one is
 *   complete and swapped in by one transaction. A restart or a lost connection resumes the same snapshot: staged
 *   chunks are kept, the broker re-sends the retained rest.
 * - Deltas apply in `seq` order, each in one transaction. One arriving early waits; if the missing one has not come
 *   within `gapWaitMs`, the gate reports `sync_gap` and asks the broker again for the retained deltas (the publisher
 *   retains every delta since the last snapshot, so a gate that was off for a day catches up by itself).
 * - A bad signature, a manifest or delta for another site, an older version or a self-contradicting batch is
 *   refused (`sync_refused`) and changes nothing.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { statusChunkFilter, statusDeltaFilter, statusManifestTopic, parseChunkTopic } from "../contract/sync-topics.js";
import { verifyCentreJws } from "../core/centre-jws.js";
import { decodeUtf8 } from "../core/jws.js";
import { parseStatusLine } from "../core/status-csv.js";
import type { StatusRow } from "../core/status-row.js";
import {
  MESSAGE_TYPE,
  parseSnapshotManifest,
  parseStatusDelta,
  sha256Hex,
  type SnapshotManifest,
  type StatusDelta,
} from "../core/sync-messages.js";
import type { CancelTimer, Clock } from "../drivers/clock.js";
import type { SqliteDb } from "../store/database.js";
import { StatusSyncStore, type SyncPosition } from "../store/status-sync-store.js";
import type { Inbound, InboundMeta } from "./inbound-router.js";
import type { Refusals } from "./refusals.js";

/** Largest manifest, chunk or delta accepted, bytes. */
export const MAX_STATUS_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Deltas held while waiting for an earlier one, at most. */
const MAX_WAITING_DELTAS = 512;

export interface StatusSyncOptions {
  readonly root: string;
  readonly site: string;
  /** How long an early delta waits for the missing one before a `sync_gap` and a resync. */
  readonly gapWaitMs: number;
  /** Rows staged per turn of the event loop. */
  readonly applyBatchRows: number;
}

export interface StatusSyncDeps {
  readonly centreKey: KeyObject;
  /** Opens the connection sync writes through (a second one to the gate's store, synchronous=NORMAL). */
  readonly openStore: () => { readonly db: SqliteDb; release(): void };
  readonly inbound: Inbound;
  readonly clock: Clock;
  readonly refusals: Refusals;
  readonly log: Logger;
}

/** What health reports of the sync. */
export interface StatusSyncHealth extends SyncPosition {
  /** Wall time since the data's publication, ms; null before any. */
  readonly ageMs: number | null;
  /** A snapshot being staged. */
  readonly pending: { readonly version: number; readonly chunks: number; readonly staged: number } | null;
  /** Deltas held back by a gap. */
  readonly waitingDeltas: number;
}

const yieldToScans = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class StatusSync {
  private store: StatusSyncStore | null = null;
  private release: (() => void) | null = null;
  private pendingManifest: SnapshotManifest | null = null;
  private staged = new Set<number>();
  private readonly waiting = new Map<string, StatusDelta>();
  private readonly refusedSnapshots = new Set<number>();
  private gapTimer: CancelTimer | null = null;
  private stopped = false;
  private retiring = false;
  private readonly applyListeners: Array<(p: SyncPosition) => void> = [];

  constructor(
    private readonly opts: StatusSyncOptions,
    private readonly deps: StatusSyncDeps,
  ) {}

  /** Called after every snapshot swap and every delta applied. */
  onApplied(fn: (p: SyncPosition) => void): void {
    this.applyListeners.push(fn);
  }

  start(): void {
    const opened = this.deps.openStore();
    this.store = new StatusSyncStore(opened.db);
    this.release = () => opened.release();
    const { root, site } = this.opts;
    const { inbound } = this.deps;
    inbound.route(statusManifestTopic(root, site), MAX_STATUS_MESSAGE_BYTES, (_t, p) => this.onManifest(p));
    inbound.route(statusDeltaFilter(root, site), MAX_STATUS_MESSAGE_BYTES, (t, p) => this.onDelta(t, p));
    inbound.route(`${root}/status/${site}/snapshot/+/+`, MAX_STATUS_MESSAGE_BYTES, (t, p, m) => this.onChunk(t, p, m));
    this.pendingManifest = this.store.pending();
    if (this.pendingManifest !== null) {
      this.staged = this.store.stagedChunks();
      this.deps.log.info(
        { version: this.pendingManifest.version, staged: this.staged.size, chunks: this.pendingManifest.chunks.length },
        "resuming a snapshot staged before the restart",
      );
    }
    this.subscribeAll();
    void this.dropRetired();
  }

  /** Stops taking messages; a chunk being staged stops at its next batch (its chunk is then fetched again). */
  stop(): void {
    this.stopped = true;
    this.gapTimer?.();
    this.gapTimer = null;
    this.release?.();
    this.release = null;
    this.store = null;
  }

  /** Asks the broker again for everything retained (the `sync` command, a gap). */
  resync(): void {
    const { root, site } = this.opts;
    const { inbound } = this.deps;
    const filters = [statusManifestTopic(root, site), statusDeltaFilter(root, site)];
    if (this.pendingManifest !== null) filters.push(statusChunkFilter(root, site, this.pendingManifest.version));
    for (const f of filters) inbound.unsubscribe(f);
    for (const f of filters) inbound.subscribe(f);
  }

  health(): StatusSyncHealth | null {
    if (this.store === null) return null;
    const p = this.store.position();
    const m = this.pendingManifest;
    return {
      ...p,
      ageMs: p.updatedMs === null ? null : Math.max(0, this.deps.clock.wallMs() - p.updatedMs),
      pending: m === null ? null : { version: m.version, chunks: m.chunks.length, staged: this.staged.size },
      waitingDeltas: this.waiting.size,
    };
  }

  private subscribeAll(): void {
    const { root, site } = this.opts;
    this.deps.inbound.subscribe(statusManifestTopic(root, site));
    this.deps.inbound.subscribe(statusDeltaFilter(root, site));
    if (this.pendingManifest !== null) this.deps.inbound.subscribe(statusChunkFilter(root, site, this.pendingManifest.version));
  }

  private refuse(key: string, detail: string): void {
    this.deps.refusals.report("sync_refused", key, detail);
  }

  private onManifest(payload: Buffer): void {
    const store = this.store;
    if (store === null || payload.length === 0) return;
    const v = verifyCentreJws(payload.toString("utf8"), this.deps.centreKey, MESSAGE_TYPE.snapshot);
    if (!v.ok) {
      this.refuse(`manifest:${sha256Hex(payload)}`, `status manifest refused (${v.error.kind}): ${v.error.detail}`);
      return;
    }
    const parsed = parseSnapshotManifest(v.value);
    if (!parsed.ok) {
      this.refuse(`manifest:${sha256Hex(payload)}`, `status manifest refused: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    if (m.site !== this.opts.site) {
      this.refuse(`manifest-site:${m.site}:${m.version}`, `status manifest for site ${m.site} refused: this gate is in ${this.opts.site}`);
      return;
    }
    const pos = store.position();
    if (m.version === pos.snapshotVersion || this.refusedSnapshots.has(m.version)) return;
    if (m.version <= pos.version) {
      this.refuse(`manifest-old:${m.version}`, `status snapshot ${m.version} refused: older than the table's version ${pos.version}`);
      return;
    }
    const p = this.pendingManifest;
    if (p !== null && p.version === m.version) {
      if (p.sha256 !== m.sha256) {
        this.refuse(`manifest-twice:${m.version}`, `status snapshot ${m.version} refused: already staging a different snapshot of that version`);
      }
      return;
    }
    if (p !== null && p.version > m.version) {
      this.refuse(`manifest-old:${m.version}`, `status snapshot ${m.version} refused: older than snapshot ${p.version} being staged`);
      return;
    }
    const { root, site } = this.opts;
    if (p !== null) this.deps.inbound.unsubscribe(statusChunkFilter(root, site, p.version));
    store.begin(m);
    this.pendingManifest = m;
    this.staged = new Set();
    this.deps.log.info({ version: m.version, rows: m.rows, chunks: m.chunks.length }, "status snapshot announced; staging");
    if (m.chunks.length === 0) this.finish(m);
    else this.deps.inbound.subscribe(statusChunkFilter(root, site, m.version));
  }

  private async onChunk(topic: string, payload: Buffer, _meta: InboundMeta): Promise<void> {
    const t = parseChunkTopic(this.opts.root, topic);
    const m = this.pendingManifest;
    if (t === null || m === null || t.site !== this.opts.site || t.version !== m.version || payload.length === 0) return;
    if (this.staged.has(t.index)) return;
    const info = m.chunks[t.index];
    if (info === undefined) {
      this.refuse(`chunk-index:${m.version}:${t.index}`, `status snapshot ${m.version}: chunk ${t.index} is not in its manifest; ignored`);
      return;
    }
    if (sha256Hex(payload) !== info.sha256) {
      this.refuse(
        `chunk-hash:${m.version}:${t.index}:${sha256Hex(payload)}`,
        `status snapshot ${m.version}: chunk ${t.index} does not match the signed manifest (forged or damaged); ignored`,
      );
      return;
    }
    const text = decodeUtf8(payload);
    const lines = text === null ? [] : text.split("\n");
    if (text === null || lines.length !== info.rows) {
      this.abandon(m, `chunk ${t.index} holds ${lines.length} lines, the manifest says ${info.rows}`);
      return;
    }
    const batch = this.opts.applyBatchRows;
    for (let from = 0; from < lines.length; from += batch) {
      const rows: StatusRow[] = [];
      const end = Math.min(lines.length, from + batch);
      for (let i = from; i < end; i++) {
        const r = parseStatusLine(lines[i] as string);
        if (!r.ok) {
          this.abandon(m, `chunk ${t.index} line ${i + 1}: ${r.error}`);
          return;
        }
        rows.push(r.value);
      }
      if (this.stopped || this.pendingManifest !== m || this.store === null) return;
      this.store.stage(rows, end === lines.length ? t.index : null);
      if (end < lines.length) {
        await yieldToScans();
        if (this.stopped || this.pendingManifest !== m) return;
      }
    }
    this.staged.add(t.index);
    if (this.staged.size === m.chunks.length) this.finish(m);
    else await yieldToScans();
  }

  private abandon(m: SnapshotManifest, why: string): void {
    this.refuse(`snapshot-bad:${m.version}`, `status snapshot ${m.version} refused: ${why}; the table is unchanged`);
    this.refusedSnapshots.add(m.version);
    this.store?.abandon();
    this.deps.inbound.unsubscribe(statusChunkFilter(this.opts.root, this.opts.site, m.version));
    this.pendingManifest = null;
    this.staged = new Set();
  }

  private finish(m: SnapshotManifest): void {
    const store = this.store;
    if (store === null) return;
    const why = store.commit(Math.min(m.tsMs, this.deps.clock.wallMs()));
    this.deps.inbound.unsubscribe(statusChunkFilter(this.opts.root, this.opts.site, m.version));
    this.pendingManifest = null;
    this.staged = new Set();
    if (why !== null) {
      this.refusedSnapshots.add(m.version);
      this.refuse(`snapshot-bad:${m.version}`, `status snapshot ${m.version} refused: ${why}; the table is unchanged`);
      return;
    }
    this.deps.log.info({ version: m.version, rows: m.rows }, "status snapshot swapped in");
    this.notifyApplied(store.position());
    this.drain();
    void this.dropRetired();
  }

  /** Empties the table a swap retired, a batch per turn of the event loop. */
  private async dropRetired(): Promise<void> {
    if (this.retiring) return;
    this.retiring = true;
    try {
      while (this.store !== null && !this.stopped && !this.store.dropRetired(this.opts.applyBatchRows * 5)) await yieldToScans();
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message }, "could not drop the retired status table; will retry at the next swap");
    } finally {
      this.retiring = false;
    }
  }

  private onDelta(_topic: string, payload: Buffer): void {
    const store = this.store;
    if (store === null || payload.length === 0) return;
    const v = verifyCentreJws(payload.toString("utf8"), this.deps.centreKey, MESSAGE_TYPE.delta);
    if (!v.ok) {
      this.refuse(`delta:${sha256Hex(payload)}`, `status delta refused (${v.error.kind}): ${v.error.detail}`);
      return;
    }
    const parsed = parseStatusDelta(v.value);
    if (!parsed.ok) {
      this.refuse(`delta:${sha256Hex(payload)}`, `status delta refused: ${parsed.error}`);
      return;
    }
    const d = parsed.value;
    if (d.site !== this.opts.site) {
      this.refuse(`delta-site:${d.site}:${d.base}:${d.seq}`, `status delta for site ${d.site} refused: this gate is in ${this.opts.site}`);
      return;
    }
    const pos = store.position();
    // Retained deltas already applied, or of an older snapshot, come again on every reconnect: nothing to say.
    if (d.base < pos.snapshotVersion || (d.base === pos.snapshotVersion && d.seq <= pos.seq)) return;
    if (this.waiting.size >= MAX_WAITING_DELTAS) {
      this.refuse(`delta-full:${d.base}`, `status delta ${d.base}/${d.seq} dropped: ${MAX_WAITING_DELTAS} deltas already wait for a missing one`);
      return;
    }
    this.waiting.set(`${d.base}/${d.seq}`, d);
    this.drain();
  }

  /** Applies waiting deltas that are next in line; arms the gap timer when some must wait. */
  private drain(): void {
    const store = this.store;
    if (store === null) return;
    for (;;) {
      const pos = store.position();
      for (const [k, d] of this.waiting) {
        if (d.base < pos.snapshotVersion || (d.base === pos.snapshotVersion && d.seq <= pos.seq)) this.waiting.delete(k);
      }
      const next = this.waiting.get(`${pos.snapshotVersion}/${pos.seq + 1}`);
      if (next === undefined) break;
      this.waiting.delete(`${next.base}/${next.seq}`);
      this.applyDelta(store, next, pos);
    }
    if (this.waiting.size === 0) {
      this.gapTimer?.();
      this.gapTimer = null;
    } else {
      this.gapTimer ??= this.deps.clock.setTimer(this.opts.gapWaitMs, () => this.onGapTimer());
    }
  }

  private applyDelta(store: StatusSyncStore, d: StatusDelta, pos: SyncPosition): void {
    const tag = `${d.base}/${d.seq}`;
    if (d.version <= pos.version) {
      this.refuse(`delta-old:${tag}`, `status delta ${tag} refused: version ${d.version} is not above the table's ${pos.version}`);
      return;
    }
    const byId = new Map<string, string>();
    const rows: StatusRow[] = [];
    for (const [i, line] of d.rows.entries()) {
      const r = parseStatusLine(line);
      if (!r.ok) {
        this.refuse(`delta-bad:${tag}`, `status delta ${tag} refused: row ${i + 1}: ${r.error}`);
        return;
      }
      const before = byId.get(r.value.id);
      if (before !== undefined && before !== line) {
        this.refuse(`delta-bad:${tag}`, `status delta ${tag} refused: row ${i + 1} gives an ID already given with other contents`);
        return;
      }
      if (before === undefined) {
        byId.set(r.value.id, line);
        rows.push(r.value);
      }
    }
    store.applyDelta(d, rows, Math.min(d.tsMs, this.deps.clock.wallMs()));
    this.deps.log.info({ base: d.base, seq: d.seq, version: d.version, rows: rows.length }, "status delta applied");
    this.notifyApplied(store.position());
  }

  private onGapTimer(): void {
    this.gapTimer = null;
    const store = this.store;
    if (store === null || this.waiting.size === 0) return;
    const pos = store.position();
    const bases = new Set([...this.waiting.values()].map((d) => d.base));
    const waitingForSnapshot = this.pendingManifest !== null && bases.has(this.pendingManifest.version);
    if (!waitingForSnapshot) {
      const seqs = [...this.waiting.values()].map((d) => `${d.base}/${d.seq}`).sort();
      this.deps.refusals.report(
        "sync_gap",
        `gap:${pos.snapshotVersion}/${pos.seq}`,
        `status delta missing after ${pos.snapshotVersion}/${pos.seq}; holding ${seqs.slice(0, 5).join(", ")}${seqs.length > 5 ? " …" : ""}; asked the broker again (a new snapshot fixes it for good)`,
      );
      this.resync();
    }
    this.gapTimer = this.deps.clock.setTimer(this.opts.gapWaitMs * (waitingForSnapshot ? 1 : 6), () => this.onGapTimer());
  }

  private notifyApplied(p: SyncPosition): void {
    for (const fn of this.applyListeners) fn(p);
  }
}
