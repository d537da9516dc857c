/**
 * The publishing side of status sync (docs/contract.md §5.7): reads a status CSV, checks every row, and publishes it
 * for a site as a signed snapshot (retained chunks, then the retained signed manifest, then clears the previous
 * snapshot and its deltas) or as the next signed delta (retained, numbered from the current snapshot).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { MqttClient } from "mqtt";
import { statusChunkTopic, statusDeltaFilter, statusDeltaTopic, statusManifestTopic } from "../contract/sync-topics.js";
import { verifyCentreJws } from "../core/centre-jws.js";
import { isStatusHeader, parseStatusLine } from "../core/status-csv.js";
import type { StatusRow } from "../core/status-row.js";
import {
  MAX_CHUNK_ROWS,
  MAX_DELTA_ROWS,
  MESSAGE_TYPE,
  parseSnapshotManifest,
  parseStatusDelta,
  sha256Hex,
  snapshotHash,
  type SnapshotManifest,
} from "../core/sync-messages.js";
import { signCentreMessage } from "../issuer/centre-key.js";
import { publishAll, publishAsync, readRetained } from "./broker-client.js";

/** The CSV did not pass; every bad line is listed (up to a limit) and nothing was published. */
export class StatusFileError extends Error {
  readonly code = "E_STATUS_FILE";
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
    this.name = "StatusFileError";
  }
}

/** A row as it travels: the CSV columns, normalised (trimmed, flags `;`-joined). */
export function canonicalLine(r: StatusRow): string {
  return [r.id, r.status, r.doses, r.lastDose ?? "", r.recoveredOn ?? "", r.dob ?? "", r.zone ?? "", r.flags.join(";")].join(",");
}

/**
 * Reads and checks a status CSV: any bad row, or an ID given twice with different contents, refuses the file
 * (a fleet must not be fed a table someone has to guess about). Exact repeats collapse. Returns canonical lines
 * sorted by ID (the order the gate's table is keyed in, which makes staging faster).
 */
export async function readStatusFile(path: string, maxProblems = 20): Promise<string[]> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const byId = new Map<string, { line: string; at: number }>();
  const problems: string[] = [];
  let bad = 0;
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (raw.trim() === "" || (n === 1 && isStatusHeader(raw))) continue;
    const r = parseStatusLine(raw);
    if (!r.ok) {
      bad++;
      if (problems.length < maxProblems) problems.push(`${path}:${n}: ${r.error}`);
      continue;
    }
    const line = canonicalLine(r.value);
    const before = byId.get(r.value.id);
    if (before === undefined) byId.set(r.value.id, { line, at: n });
    else if (before.line !== line) {
      bad++;
      if (problems.length < maxProblems) problems.push(`${path}:${n}: same id as line ${before.at}, with different contents`);
    }
  }
  if (bad > 0) throw new StatusFileError(`${bad} bad rows; nothing published`, problems);
  if (byId.size === 0) throw new StatusFileError("no rows; nothing published", []);
  return [...byId.keys()].sort().map((id) => (byId.get(id) as { line: string }).line);
}

/** The current snapshot and deltas of a site as retained on the broker (only what verifies with our key). */
async function currentState(client: MqttClient, root: string, site: string, publicKey: KeyObject) {
  const retained = await readRetained(client, root, [statusManifestTopic(root, site), statusDeltaFilter(root, site)]);
  let manifest: SnapshotManifest | null = null;
  const deltas: Array<{ topic: string; base: number; seq: number; version: number }> = [];
  const deltaTopics: string[] = [];
  for (const [topic, payload] of retained) {
    if (topic === statusManifestTopic(root, site)) {
      const v = verifyCentreJws(payload.toString("utf8"), publicKey, MESSAGE_TYPE.snapshot);
      const m = v.ok ? parseSnapshotManifest(v.value) : null;
      if (m?.ok === true) manifest = m.value;
    } else {
      deltaTopics.push(topic);
      const v = verifyCentreJws(payload.toString("utf8"), publicKey, MESSAGE_TYPE.delta);
      const d = v.ok ? parseStatusDelta(v.value) : null;
      if (d?.ok === true) deltas.push({ topic, base: d.value.base, seq: d.value.seq, version: d.value.version });
    }
  }
  return { manifest, deltas, deltaTopics };
}

export interface SnapshotReport {
  readonly version: number;
  readonly rows: number;
  readonly chunks: number;
  readonly sha256: string;
  /** The snapshot this one replaced, if any. */
  readonly previous: number | null;
  readonly clearedDeltas: number;
}

export interface PublishTarget {
  readonly client: MqttClient;
  readonly root: string;
  readonly site: string;
  readonly privateKey: KeyObject;
  /** Wall time, ms: the default version and the publication time. */
  readonly nowMs: number;
}

/** Publishes `lines` (canonical CSV rows) as the site's new snapshot. */
export async function publishSnapshot(t: PublishTarget, lines: readonly string[], chunkRows = 5000, version?: number): Promise<SnapshotReport> {
  if (!Number.isInteger(chunkRows) || chunkRows < 1 || chunkRows > MAX_CHUNK_ROWS) {
    throw new RangeError(`chunk rows must be 1 to ${MAX_CHUNK_ROWS}`);
  }
  const { client, root, site } = t;
  const before = await currentState(client, root, site, createPublicKey(t.privateKey));
  const floor = Math.max(before.manifest?.version ?? 0, ...before.deltas.map((d) => d.version)) + 1;
  const v = version ?? Math.max(t.nowMs, floor);
  if (v < floor) throw new RangeError(`version ${v} is not above the site's current ${floor - 1}`);

  const chunks: Buffer[] = [];
  for (let i = 0; i < lines.length; i += chunkRows) chunks.push(Buffer.from(lines.slice(i, i + chunkRows).join("\n"), "utf8"));
  const infos = chunks.map((c, i) => ({ rows: Math.min(chunkRows, lines.length - i * chunkRows), sha256: sha256Hex(c) }));
  // Chunks first: a gate that sees the manifest finds every chunk already there.
  await publishAll(client, chunks.map((c, i) => ({ topic: statusChunkTopic(root, site, v, i), payload: c, retain: true })));
  const manifest = { type: MESSAGE_TYPE.snapshot, site, version: v, ts: t.nowMs, rows: lines.length, chunks: infos, sha256: snapshotHash(infos.map((x) => x.sha256)) };
  await publishAsync(client, statusManifestTopic(root, site), signCentreMessage(t.privateKey, manifest), true);
  // The previous snapshot's chunks and every delta are superseded: clear them (an empty retained message).
  const old = before.manifest;
  const clears = [
    ...(old === null || old.version === v ? [] : old.chunks.map((_c, i) => statusChunkTopic(root, site, old.version, i))),
    ...before.deltaTopics,
  ];
  await publishAll(client, clears.map((topic) => ({ topic, payload: "", retain: true })));
  return { version: v, rows: lines.length, chunks: chunks.length, sha256: manifest.sha256, previous: old?.version ?? null, clearedDeltas: before.deltaTopics.length };
}

export interface DeltaReport {
  readonly base: number;
  readonly seq: number;
  readonly version: number;
  readonly rows: number;
}

/** Publishes `lines` as the next delta on top of the site's current snapshot. */
export async function publishDelta(t: PublishTarget, lines: readonly string[]): Promise<DeltaReport> {
  if (lines.length > MAX_DELTA_ROWS) throw new RangeError(`a delta holds at most ${MAX_DELTA_ROWS} rows; publish a snapshot instead`);
  const { client, root, site } = t;
  const before = await currentState(client, root, site, createPublicKey(t.privateKey));
  if (before.manifest === null) throw new RangeError(`site ${site} has no snapshot on the broker signed by this key; publish one first`);
  const base = before.manifest.version;
  const mine = before.deltas.filter((d) => d.base === base);
  const seq = Math.max(0, ...mine.map((d) => d.seq)) + 1;
  const version = Math.max(t.nowMs, base + 1, ...mine.map((d) => d.version + 1));
  const delta = { type: MESSAGE_TYPE.delta, site, base, seq, version, ts: t.nowMs, rows: lines };
  await publishAsync(client, statusDeltaTopic(root, site, seq), signCentreMessage(t.privateKey, delta), true);
  return { base, seq, version, rows: lines.length };
}
