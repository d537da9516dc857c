import { err, ok, type Result } from "./result.js";
import { HEALTH_STATUSES, ZONES, type HealthStatus, type StatusRow, type Zone } from "./status-row.js";

/** The CSV columns of docs/contract.md §4 (contract), in order. */
export const STATUS_CSV_COLUMNS = ["id", "status", "doses", "last_dose", "recovered_on", "dob", "zone", "flags"] as const;

const ID = /^\d{12}$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const FLAG = /^[a-z0-9_-]{1,32}$/;
const STATUSES: ReadonlySet<string> = new Set(HEALTH_STATUSES);
const ZONE_SET: ReadonlySet<string> = new Set(ZONES);

/** Dates already found valid: a status table repeats few distinct dates over millions of rows (sync applies them). */
const KNOWN_DATES = new Set<string>();
const MAX_KNOWN_DATES = 100_000;

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isIsoDate(s: string): boolean {
  if (KNOWN_DATES.has(s)) return true;
  const valid = checkIsoDate(s);
  if (valid && KNOWN_DATES.size < MAX_KNOWN_DATES) KNOWN_DATES.add(s);
  return valid;
}

function checkIsoDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (m === null) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * Splits one CSV line (RFC 4180 quoting, no embedded newlines). Returns null for an unterminated quote.
 */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? line.length : c;
      field = line.slice(i, end);
      i = end;
    }
    out.push(field);
    if (i >= line.length) return out;
    if (line[i] !== ",") return null;
    i++;
  }
}

/** True when the line is the header row (`id,status,…`), which an import skips. */
export function isStatusHeader(line: string): boolean {
  return line.replace(/^\uFEFF/, "").trim().toLowerCase().startsWith("id,status");
}

/** Parses one data line of the status CSV; the error names the column and what it expected. */
export function parseStatusLine(line: string): Result<StatusRow, string> {
  const fields = splitCsvLine(line.replace(/^\uFEFF/, "").replace(/\r$/, ""));
  if (fields === null) return err("unterminated quoted field");
  if (fields.length !== STATUS_CSV_COLUMNS.length) {
    return err(`expected ${STATUS_CSV_COLUMNS.length} columns (${STATUS_CSV_COLUMNS.join(",")}), got ${fields.length}`);
  }
  const [id, status, doses, lastDose, recoveredOn, dob, zone, flags] = fields.map((f) => f.trim()) as [
    string, string, string, string, string, string, string, string,
  ];
  if (!ID.test(id)) return err(`id: expected 12 digits, got ${id.length === 0 ? "nothing" : `${id.length} characters`}`);
  if (!STATUSES.has(status)) return err(`status: expected one of ${HEALTH_STATUSES.join(" ")}, got "${status.slice(0, 20)}"`);
  if (!/^\d{1,2}$/.test(doses)) return err(`doses: expected a whole number 0-99, got "${doses.slice(0, 20)}"`);
  for (const [name, v] of [["last_dose", lastDose], ["recovered_on", recoveredOn], ["dob", dob]] as const) {
    if (v !== "" && !isIsoDate(v)) return err(`${name}: expected a date YYYY-MM-DD or empty, got "${v.slice(0, 20)}"`);
  }
  if (zone !== "" && !ZONE_SET.has(zone)) return err(`zone: expected one of ${ZONES.join(" ")} or empty, got "${zone.slice(0, 20)}"`);
  const flagList = flags === "" ? [] : flags.split(";").map((f) => f.trim()).filter((f) => f !== "");
  const badFlag = flagList.find((f) => !FLAG.test(f));
  if (badFlag !== undefined) return err(`flags: "${badFlag.slice(0, 20)}" is not a flag (a-z 0-9 _ -, ';'-separated)`);
  return ok({
    id,
    status: status as HealthStatus,
    doses: Number(doses),
    lastDose: lastDose || null,
    recoveredOn: recoveredOn || null,
    dob: dob || null,
    zone: (zone || null) as Zone | null,
    flags: flagList,
  });
}
