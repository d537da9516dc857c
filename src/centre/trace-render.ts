/**
 * Text forms of trace answers: an aligned table for people (times in the display zone, the zone named in the
 * header), CSV for spreadsheets (UTC and local time both), JSON for tools (`ts` in ISO-8601 UTC; entries as the
 * EntryMessage of DESIGN §5, contacts as `{subject, sharedPassages, closestSeconds, passages}`).
 */
import type { EntryMessage } from "../contract/entry.js";
import type { Contact, ContactReport } from "./trace-queries.js";
import { formatLocal, formatLocalIso } from "./time.js";

export type TextFormat = "table" | "csv" | "json";

/** Lays rows out in columns padded to the widest cell; numbers align right. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
export function csvField(v: string | number | boolean | null): string {
  const s = v === null ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

const tsMs = (e: { ts: string }): number => Date.parse(e.ts);

/** A duration in seconds as `45s`, `2m05s`, `15m`, `1h02m`, `2h`. */
export function humanSeconds(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const m = Math.floor((s % 3600) / 60);
  return m === 0 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 3600)}h${String(m).padStart(2, "0")}m`;
}

export function renderEntries(entries: readonly EntryMessage[], format: TextFormat, zone: string): string {
  switch (format) {
    case "json":
      return JSON.stringify(entries, null, 2) + "\n";
    case "csv":
      return csv(
        ["ts", "local_time", "site", "device", "door", "subject", "decision", "reason", "kind", "id"],
        entries.map((e) => [e.ts, formatLocalIso(tsMs(e), zone), e.site, e.device, e.door, e.subject, e.decision, e.reason, e.kind, e.id]),
      );
    case "table":
      if (entries.length === 0) return "(no passages)\n";
      return (
        table(
          [`time (${zone})`, "site", "device", "door", "subject", "decision", "reason"],
          entries.map((e) => [formatLocal(tsMs(e), zone), e.site, e.device, e.door, e.subject ?? "-", e.decision, e.reason]),
        ) + `${entries.length} passage${entries.length === 1 ? "" : "s"}\n`
      );
  }
}

function doorsOf(c: Contact): string {
  return [...new Set(c.passages.map((p) => `${p.site}/${p.device}/${p.door}`))].join(" ");
}

export function renderContacts(report: ContactReport, format: TextFormat, zone: string): string {
  const contacts = report.contacts;
  switch (format) {
    case "json":
      return JSON.stringify(contacts, null, 2) + "\n";
    case "csv":
      return csv(
        ["rank", "subject", "shared_passages", "closest_seconds", "passages", "first_ts", "last_ts", "doors"],
        contacts.map((c, i) => [
          i + 1,
          c.subject,
          c.sharedPassages,
          c.closestSeconds,
          c.passages.length,
          c.passages[0]?.ts ?? "",
          c.passages[c.passages.length - 1]?.ts ?? "",
          doorsOf(c),
        ]),
      );
    case "table": {
      const head =
        `Contacts of ${report.subject}: ${report.subjectPassages.length} passage${report.subjectPassages.length === 1 ? "" : "s"}, ` +
        `window ±${humanSeconds(report.windowMs / 1000)}, ` +
        `${formatLocal(report.range.fromMs, zone)} to ${formatLocal(report.range.toMs, zone)} (${zone})\n\n`;
      if (contacts.length === 0) return head + "(no contacts)\n";
      return (
        head +
        table(
          ["#", "subject", "shared", "closest", `first (${zone})`, `last (${zone})`, "doors"],
          contacts.map((c, i) => [
            String(i + 1),
            c.subject,
            String(c.sharedPassages),
            humanSeconds(c.closestSeconds),
            formatLocal(tsMs(c.passages[0]!), zone),
            formatLocal(tsMs(c.passages[c.passages.length - 1]!), zone),
            doorsOf(c),
          ]),
          new Set([0, 2, 3]),
        ) +
        `${contacts.length} contact${contacts.length === 1 ? "" : "s"}\n`
      );
    }
  }
}
