/** Pure: the fleet as a fixed-width text table for a terminal. */
import type { DeviceRow } from "./fleet-view.js";

/** `42s`, `5m`, `3h`, `2d`; `-` for unknown. */
export function shortAge(s: number | null): string {
  if (s === null) return "-";
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

const COLUMNS = ["SITE", "DEVICE", "STATE", "SINCE", "LAST ENTRY", "OUTBOX", "OLDEST", "STATUS", "AGE", "P99", "ALARMS"] as const;

export function renderFleetTable(rows: readonly DeviceRow[], nowMs: number): string {
  const ago = (iso: string | null): string => (iso === null ? "-" : shortAge(Math.max(0, (nowMs - Date.parse(iso)) / 1000)) + " ago");
  const cells = rows.map((r) => [
    r.site,
    r.device,
    (r.state === "degraded" && r.reason !== null ? `degraded ${r.reason}` : r.state) + (r.silent ? ` SILENT ${ago(r.lastHeard).replace(" ago", "")}` : ""),
    ago(r.since),
    r.lastEntry === null ? "-" : `${r.lastEntry.decision} ${r.lastEntry.reason} ${ago(r.lastEntry.ts)}`,
    r.outboxDepth === null ? "-" : String(r.outboxDepth),
    shortAge(r.outboxOldestAgeS),
    r.statusVersion === null ? "-" : `v${r.statusVersion}${r.stale === true ? " stale" : ""}`,
    shortAge(r.statusAgeS),
    r.scanP99Ms === null ? "-" : `${r.scanP99Ms.toFixed(1)}ms`,
    r.alarms.length === 0 ? "-" : r.alarms.join(","),
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (row: readonly string[]): string => row.map((v, i) => v.padEnd(widths[i] as number)).join("  ").trimEnd();
  const online = rows.filter((r) => r.state === "online" && !r.silent).length;
  const degraded = rows.filter((r) => r.state === "degraded").length;
  const silent = rows.filter((r) => r.silent).length;
  const offline = rows.filter((r) => r.state === "offline").length;
  const summary = `${rows.length} devices: ${online} online, ${degraded} degraded, ${offline} offline, ${silent} silent  (${new Date(nowMs).toISOString()})`;
  return [summary, "", line(COLUMNS), ...cells.map(line)].join("\n");
}
