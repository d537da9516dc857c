/**
 * Issuer key sync (docs/contract.md §5.7): the retained `<root>/keys` message, signed by the centre, replaces the
 * pass issuer keys the gate verifies passes with, at once and without a restart. The applied set is kept in the
 * store, so a revoked key stays revoked across a restart with no broker; the `passes.issuerKeys` file is only the
 * set a gate starts with before the centre has sent one.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { keysTopic } from "../contract/sync-topics.js";
import { verifyCentreJws } from "../core/centre-jws.js";
import type { IssuerKeySet } from "../core/issuer-keys.js";
import { parseJwks } from "../core/jwks.js";
import { MESSAGE_TYPE, parseKeySetMessage, sha256Hex } from "../core/sync-messages.js";
import type { SqliteDb } from "../store/database.js";
import { Settings } from "../store/settings.js";
import type { Inbound } from "./inbound-router.js";
import type { Refusals } from "./refusals.js";

export const MAX_KEYS_MESSAGE_BYTES = 256 * 1024;

const KEY_SETTING = { version: "keys.version", jwks: "keys.jwks" } as const;

export interface KeySyncDeps {
  readonly root: string;
  readonly centreKey: KeyObject;
  readonly db: SqliteDb;
  readonly inbound: Inbound;
  /** Where the keys go (the gate). */
  readonly apply: (keys: IssuerKeySet) => void;
  /** Reads `passes.issuerKeys` again (the `reload` command); throws on a bad file. */
  readonly loadFileKeys: () => IssuerKeySet;
  readonly refusals: Refusals;
  readonly log: Logger;
}

export class KeySync {
  private settings: Settings | null = null;
  private count: number | null = null;

  constructor(private readonly deps: KeySyncDeps) {}

  start(): void {
    this.settings = new Settings(this.deps.db);
    const stored = this.settings.get(KEY_SETTING.jwks);
    if (stored !== undefined) {
      let json: unknown = null;
      try {
        json = JSON.parse(stored);
      } catch {
        this.deps.log.error("the stored key set is not JSON; using passes.issuerKeys until the centre sends one");
      }
      const keys = parseJwks(json);
      if (keys.ok) {
        this.deps.apply(keys.value);
        this.count = keys.value.size;
        this.deps.log.info({ version: this.version(), keys: keys.value.size }, "issuer keys from the centre's last key set");
      }
    }
    this.deps.inbound.route(keysTopic(this.deps.root), MAX_KEYS_MESSAGE_BYTES, (_t, p) => this.onKeys(p));
    this.deps.inbound.subscribe(keysTopic(this.deps.root));
  }

  stop(): void {
    this.settings = null;
  }

  /** The applied key set's version (0: none from the centre yet). */
  version(): number {
    return this.settings?.getNumber(KEY_SETTING.version) ?? 0;
  }

  health(): { readonly version: number; readonly keys: number | null } {
    return { version: this.version(), keys: this.count };
  }

  /** Asks the broker again for the retained key set. */
  resync(): void {
    const t = keysTopic(this.deps.root);
    this.deps.inbound.unsubscribe(t);
    this.deps.inbound.subscribe(t);
  }

  /** The `reload` command: re-reads the key file when the centre has sent no set, and asks for the retained one. */
  reload(): void {
    if (this.version() === 0) {
      const keys = this.deps.loadFileKeys();
      this.deps.apply(keys);
      this.count = keys.size;
    }
    this.resync();
  }

  private onKeys(payload: Buffer): void {
    const settings = this.settings;
    if (settings === null || payload.length === 0) return;
    const refuse = (detail: string): void => this.deps.refusals.report("sync_refused", `keys:${sha256Hex(payload)}`, detail);
    const v = verifyCentreJws(payload.toString("utf8"), this.deps.centreKey, MESSAGE_TYPE.keys);
    if (!v.ok) return refuse(`issuer key set refused (${v.error.kind}): ${v.error.detail}`);
    const m = parseKeySetMessage(v.value);
    if (!m.ok) return refuse(`issuer key set refused: ${m.error}`);
    const current = this.version();
    if (m.value.version === current) return;
    if (m.value.version < current) return refuse(`issuer key set ${m.value.version} refused: older than the applied ${current}`);
    const keys = parseJwks(m.value.jwks);
    if (!keys.ok) return refuse(`issuer key set ${m.value.version} refused: ${keys.error.slice(0, 3).join("; ")}`);
    this.deps.db.transaction(() => {
      settings.set(KEY_SETTING.jwks, JSON.stringify(m.value.jwks));
      settings.set(KEY_SETTING.version, m.value.version);
    })();
    this.deps.apply(keys.value);
    this.count = keys.value.size;
    this.deps.log.info({ version: m.value.version, keys: keys.value.size, kids: [...keys.value.keys()] }, "issuer keys replaced");
  }
}
