/**
 * Signed commands (docs/contract.md §5.7): `open`, `lockdown`, `normal`, `sync`, `reload` on
 * `<root>/<site>/<device>/cmd` or `<root>/<site>/all/cmd`. A command is executed only when it verifies with the centre
 * key, is addressed to this gate, has not expired, has never been seen here (ids are kept in the store until they
 * expire, so a restart does not reopen the window), and arrived live: a retained copy, left on the topic by mistake,
 * is never executed. Every command taken is recorded in the `commands` table before it runs (at most once, even
 * across a crash); every answer goes to `cmd/result` through the outbox.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { commandTopic } from "../contract/sync-topics.js";
import { deviceTopic } from "../contract/topics.js";
import { verifyCentreJws } from "../core/centre-jws.js";
import type { GateMode } from "../core/decide.js";
import { splitCompactJws } from "../core/jws.js";
import { commandRefusal, MESSAGE_TYPE, parseCommand, sha256Hex, type Command } from "../core/sync-messages.js";
import type { Clock } from "../drivers/clock.js";
import type { SqliteDb } from "../store/database.js";
import { Settings } from "../store/settings.js";
import type { Inbound, InboundMeta } from "./inbound-router.js";
import type { Refusals } from "./refusals.js";

export const MAX_COMMAND_BYTES = 16 * 1024;
const MODE_SETTING = "gate.mode";

/** The payload of `cmd/result` (contract). */
export interface CommandResult {
  readonly id: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** What commands act on. */
export interface CommandTarget {
  setMode(mode: GateMode): void;
  /** Journals a `manual` entry and pulses the relay; throws when the journal cannot take it. */
  openManually(detail: string): unknown;
  sync(): void;
  reload(): void;
}

export interface CommandHandlerDeps {
  readonly root: string;
  readonly site: string;
  readonly device: string;
  readonly skewS: number;
  readonly centreKey: KeyObject;
  readonly db: SqliteDb;
  readonly inbound: Inbound;
  readonly target: CommandTarget;
  /** Puts a message in the outbox (durable, delivered at least once). */
  readonly queue: (topic: string, payload: string) => void;
  readonly clock: Clock;
  readonly refusals: Refusals;
  readonly log: Logger;
}

/** The id of an unverified command, for the refusal's answer only; null when there is no plausible one. */
function unverifiedId(text: string): string | null {
  const parts = splitCompactJws(text.trim());
  const json = parts.ok ? Buffer.from(parts.value.payload).toString("utf8") : text;
  try {
    const o = JSON.parse(json) as { id?: unknown } | null;
    return typeof o?.id === "string" && /^[A-Za-z0-9._:-]{1,64}$/.test(o.id) ? o.id : null;
  } catch {
    return null;
  }
}

export class CommandHandler {
  private stmts: {
    seen: { get(id: string): unknown };
    insert: { run(...p: unknown[]): unknown };
    finish: { run(...p: unknown[]): unknown };
    purge: { run(nowS: number): unknown };
  } | null = null;
  private settings: Settings | null = null;

  constructor(private readonly deps: CommandHandlerDeps) {}

  start(): void {
    const { db, root, site, device, inbound } = this.deps;
    this.settings = new Settings(db);
    this.stmts = {
      seen: db.prepare<[string]>("SELECT 1 FROM commands WHERE id = ?"),
      insert: db.prepare("INSERT INTO commands (id, op, received_ms, expires_s) VALUES (?, ?, ?, ?)"),
      finish: db.prepare("UPDATE commands SET ok = ?, error = ? WHERE id = ?"),
      purge: db.prepare("DELETE FROM commands WHERE expires_s < ?"),
    };
    const mode = this.settings.get(MODE_SETTING);
    if (mode === "lockdown") {
      this.deps.target.setMode("lockdown");
      this.deps.log.warn("in lockdown since before the restart: every code is refused until a normal command");
    }
    for (const t of [commandTopic(root, site, device), commandTopic(root, site, "all")]) {
      inbound.route(t, MAX_COMMAND_BYTES, (topic, p, m) => this.onCommand(topic, p, m));
      inbound.subscribe(t);
    }
  }

  stop(): void {
    this.stmts = null;
    this.settings = null;
  }

  private answer(id: string, ok: boolean, error?: string): void {
    const { root, site, device } = this.deps;
    const result: CommandResult = error === undefined ? { id, ok } : { id, ok, error };
    try {
      this.deps.queue(deviceTopic(root, site, device, "cmd/result"), JSON.stringify(result));
    } catch (e) {
      this.deps.log.error({ id, err: (e as Error).message }, "could not queue the command result");
    }
  }

  private refuse(id: string | null, key: string, why: string): void {
    this.deps.refusals.report("command_refused", key, `command ${id ?? "(no id)"} refused: ${why}`);
    if (id !== null) this.answer(id, false, why);
  }

  private onCommand(topic: string, payload: Buffer, meta: InboundMeta): void {
    const stmts = this.stmts;
    if (stmts === null || payload.length === 0) return;
    const text = payload.toString("utf8");
    const v = verifyCentreJws(text, this.deps.centreKey, MESSAGE_TYPE.command);
    if (!v.ok) {
      const why = v.error.kind === "signature" ? `not signed by the centre (${v.error.detail})` : `malformed (${v.error.detail})`;
      return this.refuse(unverifiedId(text), `cmd:${sha256Hex(payload)}`, why);
    }
    const parsed = parseCommand(v.value);
    if (!parsed.ok) return this.refuse(unverifiedId(text), `cmd:${sha256Hex(payload)}`, `malformed (${parsed.error})`);
    const c = parsed.value;
    if (meta.retain) {
      // Answering would repeat on every reconnect; the event says it once.
      this.deps.refusals.report("command_refused", `cmd-retained:${c.id}`, `command ${c.id} (${c.op}) ignored: a retained copy, not a live command`);
      return;
    }
    const topicDevice = topic.split("/").at(-2);
    if (topicDevice !== c.device) return this.refuse(c.id, `cmd:${c.id}:topic`, `addressed to ${c.device} but sent on the topic of ${topicDevice ?? "?"}`);
    const nowMs = this.deps.clock.wallMs();
    const nowS = Math.floor(nowMs / 1000);
    const why = commandRefusal(c, { site: this.deps.site, device: this.deps.device }, nowS, this.deps.skewS);
    if (why !== null) return this.refuse(c.id, `cmd:${c.id}:${why.split(" ")[0] ?? ""}`, why);
    stmts.purge.run(nowS);
    if (stmts.seen.get(c.id) !== undefined) return this.refuse(c.id, `cmd:${c.id}:replayed`, "replayed (this id was already taken)");
    // On record before it runs: a crash mid-way never runs it twice.
    stmts.insert.run(c.id, c.op, nowMs, c.exp + this.deps.skewS);
    let error: string | undefined;
    try {
      this.execute(c);
    } catch (e) {
      error = (e as Error).message;
    }
    stmts.finish.run(error === undefined ? 1 : 0, error ?? null, c.id);
    this.deps.log.info({ id: c.id, op: c.op, ok: error === undefined, error }, "command executed");
    this.answer(c.id, error === undefined, error);
  }

  private execute(c: Command): void {
    const t = this.deps.target;
    switch (c.op) {
      case "open":
        t.openManually(`opened by command ${c.id}`);
        return;
      case "lockdown":
      case "normal":
        this.settings?.set(MODE_SETTING, c.op);
        t.setMode(c.op);
        return;
      case "sync":
        t.sync();
        return;
      case "reload":
        t.reload();
        return;
      default: {
        const never: never = c.op;
        throw new Error(`unknown op ${String(never)}`);
      }
    }
  }
}
