/**
 * Payloads the centre signs for the fleet (docs/contract.md §5.7): the status snapshot manifest, a status delta,
 * the issuer key set and a command. Each parser takes the payload object of a verified centre JWS
 * (see centre-jws.ts) and checks every member; pure, never throws, every refusal says which member and why.
 */
import { createHash } from "node:crypto";
import { err, ok, type Result } from "./result.js";

export const MESSAGE_TYPE = {
  snapshot: "status-snapshot",
  delta: "status-delta",
  keys: "issuer-keys",
  command: "command",
} as const;

/** More chunks than this in one snapshot is refused (at 5,000 rows a chunk: 50 million rows). */
export const MAX_SNAPSHOT_CHUNKS = 10_000;
/** More rows than this in one chunk is refused (keeps one chunk's apply short, so scans never wait long). */
export const MAX_CHUNK_ROWS = 20_000;
/** More rows than this in one delta is refused: publish a snapshot instead. */
export const MAX_DELTA_ROWS = 50_000;
/** A command may live at most this long (its id is remembered until it expires). */
export const MAX_COMMAND_TTL_S = 86_400;
/** Longest command id. */
export const MAX_COMMAND_ID_LENGTH = 64;

export const COMMAND_OPS = ["open", "lockdown", "normal", "sync", "reload"] as const;
export type CommandOp = (typeof COMMAND_OPS)[number];

export interface ChunkInfo {
  /** Data lines in the chunk. */
  readonly rows: number;
  /** Lowercase hex SHA-256 of the chunk's payload bytes. */
  readonly sha256: string;
}

/** The signed, retained description of a full status table for a site. */
export interface SnapshotManifest {
  readonly site: string;
  /** Strictly increasing per site; the gate refuses a version not above the one it has. */
  readonly version: number;
  /** Publication time, ms since the epoch: the table's age counts from it. */
  readonly tsMs: number;
  readonly rows: number;
  readonly chunks: readonly ChunkInfo[];
  /** SHA-256 (hex) of the chunk hashes joined by "\n": names the whole snapshot. */
  readonly sha256: string;
}

/** A signed batch of changed rows on top of snapshot `base`, number `seq` (1, 2, …) since that snapshot. */
export interface StatusDelta {
  readonly site: string;
  readonly base: number;
  readonly seq: number;
  /** The table's version once applied; above `base`. */
  readonly version: number;
  readonly tsMs: number;
  /** CSV data lines (docs/contract: the status CSV columns), each a whole row that replaces the row of its ID. */
  readonly rows: readonly string[];
}

/** The signed issuer key set: `keys` is a JWK Set checked by parseJwks. */
export interface KeySetMessage {
  readonly version: number;
  readonly tsMs: number;
  readonly jwks: unknown;
}

export interface Command {
  readonly id: string;
  readonly site: string;
  /** A device name, or `all` for every device of the site. */
  readonly device: string;
  readonly op: CommandOp;
  readonly args: Readonly<Record<string, unknown>>;
  /** Issue and expiry, Unix seconds. */
  readonly iat: number;
  readonly exp: number;
}

type O = Readonly<Record<string, unknown>>;

const SEGMENT = /^[a-z0-9-]{1,64}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const COMMAND_ID = /^[A-Za-z0-9._:-]+$/;

const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

function site(o: O): Result<string, string> {
  return typeof o.site === "string" && SEGMENT.test(o.site) && o.site !== "all"
    ? ok(o.site)
    : err("site: expected [a-z0-9-]{1,64}, not all");
}

function timestamp(o: O): Result<number, string> {
  return isPositiveInt(o.ts) ? ok(o.ts) : err("ts: expected ms since the epoch");
}

/** SHA-256 hex of bytes or a string's UTF-8. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The snapshot's overall hash from its chunk hashes. */
export function snapshotHash(chunkHashes: readonly string[]): string {
  return sha256Hex(chunkHashes.join("\n"));
}

export function parseSnapshotManifest(o: O): Result<SnapshotManifest, string> {
  const s = site(o);
  if (!s.ok) return s;
  if (!isPositiveInt(o.version)) return err("version: expected a positive integer");
  const ts = timestamp(o);
  if (!ts.ok) return ts;
  if (typeof o.rows !== "number" || !Number.isSafeInteger(o.rows) || o.rows < 0) return err("rows: expected a count");
  if (!Array.isArray(o.chunks)) return err("chunks: expected an array");
  if (o.chunks.length > MAX_SNAPSHOT_CHUNKS) return err(`chunks: more than ${MAX_SNAPSHOT_CHUNKS}`);
  const chunks: ChunkInfo[] = [];
  let total = 0;
  for (const [i, c] of (o.chunks as unknown[]).entries()) {
    if (typeof c !== "object" || c === null) return err(`chunks[${i}]: expected an object`);
    const { rows, sha256 } = c as O;
    if (typeof rows !== "number" || !Number.isSafeInteger(rows) || rows < 1 || rows > MAX_CHUNK_ROWS) {
      return err(`chunks[${i}].rows: expected 1 to ${MAX_CHUNK_ROWS}`);
    }
    if (typeof sha256 !== "string" || !HEX64.test(sha256)) return err(`chunks[${i}].sha256: expected 64 hex digits`);
    chunks.push({ rows, sha256 });
    total += rows;
  }
  if (total !== o.rows) return err(`rows: ${o.rows} does not match the chunks' ${total}: the manifest contradicts itself`);
  if (typeof o.sha256 !== "string" || o.sha256 !== snapshotHash(chunks.map((c) => c.sha256))) {
    return err("sha256: does not match the chunk hashes: the manifest contradicts itself");
  }
  return ok({ site: s.value, version: o.version, tsMs: ts.value, rows: o.rows, chunks, sha256: o.sha256 });
}

export function parseStatusDelta(o: O): Result<StatusDelta, string> {
  const s = site(o);
  if (!s.ok) return s;
  if (!isPositiveInt(o.base)) return err("base: expected the snapshot version, a positive integer");
  if (!isPositiveInt(o.seq)) return err("seq: expected a positive integer");
  if (!isPositiveInt(o.version) || o.version <= o.base) return err("version: expected an integer above base");
  const ts = timestamp(o);
  if (!ts.ok) return ts;
  if (!Array.isArray(o.rows) || o.rows.length === 0) return err("rows: expected a non-empty array of CSV lines");
  if (o.rows.length > MAX_DELTA_ROWS) return err(`rows: more than ${MAX_DELTA_ROWS}; publish a snapshot instead`);
  if (!o.rows.every((r) => typeof r === "string")) return err("rows: expected strings (CSV lines)");
  return ok({ site: s.value, base: o.base, seq: o.seq, version: o.version, tsMs: ts.value, rows: o.rows });
}

export function parseKeySetMessage(o: O): Result<KeySetMessage, string> {
  if (!isPositiveInt(o.version)) return err("version: expected a positive integer");
  const ts = timestamp(o);
  if (!ts.ok) return ts;
  if (typeof o.keys !== "object" || o.keys === null) return err("keys: expected a JWK Set object");
  return ok({ version: o.version, tsMs: ts.value, jwks: o.keys });
}

/** Checks a command's form; whether it is addressed to this gate, expired or replayed is the handler's business. */
export function parseCommand(o: O): Result<Command, string> {
  if (typeof o.id !== "string" || o.id.length === 0 || o.id.length > MAX_COMMAND_ID_LENGTH || !COMMAND_ID.test(o.id)) {
    return err(`id: expected 1 to ${MAX_COMMAND_ID_LENGTH} of A-Z a-z 0-9 . _ : -`);
  }
  const s = site(o);
  if (!s.ok) return s;
  if (typeof o.device !== "string" || !SEGMENT.test(o.device)) return err("device: expected a device name or all");
  if (typeof o.op !== "string" || !(COMMAND_OPS as readonly string[]).includes(o.op)) {
    return err(`op: expected one of ${COMMAND_OPS.join(" ")}`);
  }
  const args = o.args ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) return err("args: expected an object");
  if (!isPositiveInt(o.iat)) return err("iat: expected Unix seconds");
  if (!isPositiveInt(o.exp)) return err("exp: expected Unix seconds");
  if (o.exp < o.iat || o.exp - o.iat > MAX_COMMAND_TTL_S) return err(`exp: must be 0 to ${MAX_COMMAND_TTL_S} s after iat`);
  return ok({ id: o.id, site: s.value, device: o.device, op: o.op as CommandOp, args: args as O, iat: o.iat, exp: o.exp });
}

/** Why a command is not for this gate now; null when it is to be executed. Pure: `nowS` comes in. */
export function commandRefusal(
  c: Command,
  me: { readonly site: string; readonly device: string },
  nowS: number,
  skewS: number,
): string | null {
  if (c.site !== me.site || (c.device !== "all" && c.device !== me.device)) {
    return `addressed to ${c.site}/${c.device}, not ${me.site}/${me.device}`;
  }
  if (nowS > c.exp + skewS) return `expired at ${new Date(c.exp * 1000).toISOString()}`;
  if (c.iat > nowS + skewS) return `issued in the future (${new Date(c.iat * 1000).toISOString()})`;
  return null;
}
