/**
 * Text forms of trace answers: an aligned table for people (times in the display zone, the zone named in the
 * header), CSV for spreadsheets (UTC and local time both), JSON for tools (`ts` in ISO-8601 UTC; entries as the
 * EntryMessage of docs/contract.md §5, contacts as `{subject, sharedPassages, closestSeconds, passages}`).
 *
 * An answer can be millions of rows: each form is produced as a sequence of chunks (`*Chunks`) that the CLI
 * writes as they come, never one string (V8 caps a string near 512 MB) and never a spread of every row into
 * one call (`Math.max(...rows)` overflows the stack past ~125,000). The `render*` wrappers join the chunks for
 * small answers and tests.
 *
 * What the fleet sent is not trusted to be harmless to look at: the table shows control and bidi characters
 * escaped (an ESC sequence or a right-to-left override would repaint the terminal or reorder a line), the
 * JSON escapes them (lossless: the same JSON value), and a CSV cell that a spreadsheet would run as a formula
 * is neutralised with a leading quote (OWASP's CSV-injection rule).
 */
import type { EntryMessage } from "../contract/entry.js";
import { UNSAFE_CHARS } from "../contract/strict-fields.js";
import type { Contact, ContactReport } from "./trace-queries.js";
import { formatLocal, formatLocalIso } from "./time.js";

export type TextFormat = "table" | "csv" | "json";

export interface RenderOptions {
  /** Escape control and bidi characters in CSV cells too (when the CSV goes to a terminal). Default false. */
  readonly escapeCsv?: boolean;
}

const UNSAFE_ALL = new RegExp(UNSAFE_CHARS.source, "g");

/** Control and bidi characters as visible `\u001b`-style escapes: safe to print on a terminal. */
export function printable(s: string): string {
  return s.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Rows a table lays out per chunk. */
const ROWS_PER_CHUNK = 2000;

/** Lays rows out in columns padded to the widest cell; numbers align right. Cells are shown `printable`. */
export function* tableChunks(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): Generator<string> {
  const widths = header.map((h) => h.length);
  for (const r of rows) widen(widths, r);
  const line = tableLine(widths, rightAligned);
  yield line(header.map(safeCell)) + "\n" + line(widths.map((w) => "-".repeat(w))) + "\n";
  for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) {
    let out = "";
    for (const r of rows.slice(i, i + ROWS_PER_CHUNK)) out += line(header.map((_, j) => safeCell(r[j]))) + "\n";
    yield out;
  }
}

const safeCell = (c: string | undefined): string => printable(c ?? "");

/** Grows `widths` to fit the cells of `row` as they will be shown. */
function widen(widths: number[], row: readonly string[]): void {
  for (let i = 0; i < widths.length; i++) {
    const n = safeCell(row[i]).length;
    if (n > widths[i]!) widths[i] = n;
  }
}

function tableLine(widths: readonly number[], rightAligned: ReadonlySet<number>): (cells: readonly string[]) => string {
  return (cells) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
}

export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string {
  return [...tableChunks(header, rows, rightAligned)].join("");
}

/** First characters that make a spreadsheet read a cell as a formula (or, for tab and CR, hide one). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180 field: quoted when it holds a comma, quote or line break. A text cell starting with `=`, `+`, `-`,
 * `@`, tab or CR gets a leading `'` so that a spreadsheet shows it instead of running it. Numbers are written
 * as numbers (a negative number is not a formula).
 */
export function csvField(v: string | number | boolean | null, opts: RenderOptions = {}): string {
  let s = v === null ? "" : String(v);
  if (typeof v === "string" && FORMULA_START.test(s)) s = `'${s}`;
  if (opts.escapeCsv === true) s = printable(s);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function* csvChunks(
  header: readonly string[],
  rows: Iterable<readonly (string | number | boolean | null)[]>,
  opts: RenderOptions = {},
): Generator<string> {
  let out = header.map((h) => csvField(h, opts)).join(",") + "\r\n";
  let n = 0;
  for (const r of rows) {
    out += r.map((c) => csvField(c, opts)).join(",") + "\r\n";
    if (++n % ROWS_PER_CHUNK === 0) {
      yield out;
      out = "";
    }
  }
  yield out;
}

export function csv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[], opts: RenderOptions = {}): string {
  return [...csvChunks(header, rows, opts)].join("");
}

/** What JSON.stringify leaves raw that a terminal acts on: DEL, C1 and bidi marks (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with control, C1 and bidi characters as `\u` escapes: the same value, harmless on a terminal. */
function safeJson(v: unknown, indent: number): string {
  return JSON.stringify(v, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `JSON.stringify(items, null, 2)` (with unsafe characters escaped), in chunks. */
export function* jsonArrayChunks(items: readonly unknown[]): Generator<string> {
  if (items.length === 0) {
    yield "[]\n";
    return;
  }
  let out = "[\n";
  for (let i = 0; i < items.length; i++) {
    out += "  " + safeJson(items[i], 2).replace(/\n/g, "\n  ") + (i + 1 < items.length ? ",\n" : "\n");
    if ((i + 1) % ROWS_PER_CHUNK === 0) {
      yield out;
      out = "";
    }
  }
  yield out + "]\n";
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

const ENTRY_CSV_HEADER = ["ts", "local_time", "site", "device", "door", "subject", "decision", "reason", "kind", "id"];
const entryCsvRow = (e: EntryMessage, zone: string): (string | null)[] => [
  e.ts,
  formatLocalIso(tsMs(e), zone),
  e.site,
  e.device,
  e.door,
  e.subject,
  e.decision,
  e.reason,
  e.kind,
  e.id,
];
const entryTableHeader = (zone: string): string[] => [`time (${zone})`, "site", "device", "door", "subject", "decision", "reason"];
const entryTableRow = (e: EntryMessage, zone: string): string[] => [
  formatLocal(tsMs(e), zone),
  e.site,
  e.device,
  e.door,
  e.subject ?? "-",
  e.decision,
  e.reason,
];
const passages = (n: number): string => `${n} passage${n === 1 ? "" : "s"}\n`;

export function* entryChunks(entries: readonly EntryMessage[], format: TextFormat, zone: string, opts: RenderOptions = {}): Generator<string> {
  switch (format) {
    case "json":
      yield* jsonArrayChunks(entries);
      return;
    case "csv":
      yield* csvChunks(
        ENTRY_CSV_HEADER,
        (function* () {
          for (const e of entries) yield entryCsvRow(e, zone);
        })(),
        opts,
      );
      return;
    case "table":
      if (entries.length === 0) {
        yield "(no passages)\n";
        return;
      }
      yield* tableChunks(
        entryTableHeader(zone),
        entries.map((e) => entryTableRow(e, zone)),
      );
      yield passages(entries.length);
      return;
  }
}

/**
 * `entryChunks` over an answer read page by page (`EntryStore.entryPages`), never held whole: the same text.
 * The table needs its column widths first, so it reads the pages twice (`pages` is called once per pass).
 */
export async function* entryPageChunks(
  pages: () => AsyncIterable<readonly EntryMessage[]>,
  format: TextFormat,
  zone: string,
  opts: RenderOptions = {},
): AsyncGenerator<string> {
  switch (format) {
    case "json": {
      let first = true;
      for await (const page of pages()) {
        let out = "";
        for (const e of page) {
          out += (first ? "[\n" : ",\n") + "  " + safeJson(e, 2).replace(/\n/g, "\n  ");
          first = false;
        }
        if (out !== "") yield out;
      }
      yield first ? "[]\n" : "\n]\n";
      return;
    }
    case "csv":
      yield ENTRY_CSV_HEADER.map((h) => csvField(h, opts)).join(",") + "\r\n";
      for await (const page of pages()) {
        let out = "";
        for (const e of page) out += entryCsvRow(e, zone).map((c) => csvField(c, opts)).join(",") + "\r\n";
        yield out;
      }
      return;
    case "table": {
      const header = entryTableHeader(zone);
      const widths = header.map((h) => h.length);
      let counted = 0;
      for await (const page of pages()) {
        for (const e of page) widen(widths, entryTableRow(e, zone));
        counted += page.length;
      }
      if (counted === 0) {
        yield "(no passages)\n";
        return;
      }
      const line = tableLine(widths, new Set());
      yield line(header.map(safeCell)) + "\n" + line(widths.map((w) => "-".repeat(w))) + "\n";
      let printed = 0;
      for await (const page of pages()) {
        let out = "";
        for (const e of page) out += line(entryTableRow(e, zone).map(safeCell)) + "\n";
        printed += page.length;
        yield out;
      }
      yield passages(printed);
      return;
    }
  }
}

export function renderEntries(entries: readonly EntryMessage[], format: TextFormat, zone: string, opts: RenderOptions = {}): string {
  return [...entryChunks(entries, format, zone, opts)].join("");
}

function doorsOf(c: Contact): string {
  return [...new Set(c.passages.map((p) => `${p.site}/${p.device}/${p.door}`))].join(" ");
}

export function* contactChunks(report: ContactReport, format: TextFormat, zone: string, opts: RenderOptions = {}): Generator<string> {
  const contacts = report.contacts;
  switch (format) {
    case "json":
      yield* jsonArrayChunks(contacts);
      return;
    case "csv":
      yield* csvChunks(
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
        opts,
      );
      return;
    case "table": {
      yield printable(
        `Contacts of ${report.subject}: ${report.subjectPassages.length} passage${report.subjectPassages.length === 1 ? "" : "s"}, ` +
          `window ±${humanSeconds(report.windowMs / 1000)}, ` +
          `${formatLocal(report.range.fromMs, zone)} to ${formatLocal(report.range.toMs, zone)} (${zone})`,
      ) + "\n\n";
      if (contacts.length === 0) {
        yield "(no contacts)\n";
        return;
      }
      yield* tableChunks(
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
      );
      yield `${contacts.length} contact${contacts.length === 1 ? "" : "s"}\n`;
      return;
    }
  }
}

export function renderContacts(report: ContactReport, format: TextFormat, zone: string, opts: RenderOptions = {}): string {
  return [...contactChunks(report, format, zone, opts)].join("");
}
