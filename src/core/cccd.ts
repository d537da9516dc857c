/**
 * The QR printed on a Vietnamese chip ID card (CCCD), docs/contract.md §3.1 (contract).
 *
 * Pure: no I/O, no clock. Never throws on bad input: every failure is a `bad_format` Rejection whose detail names the
 * field (by its position in the scanned text) and what was expected. Details end up in logs, so they never repeat an
 * ID number or a name: they echo dates and short fragments only, otherwise they give a length.
 */
import type { CardCredential, Rejection } from "./credential.js";
import { codePointLabel, findControl, isDigits, stripScannerNoise } from "./code-text.js";
import { err, ok, type Result } from "./result.js";

/** Where each field sits in one layout (0-based indices into the `|`-split text); `oldId` is -1 when absent. */
interface Layout {
  readonly id: number;
  readonly oldId: number;
  readonly name: number;
  readonly dob: number;
  readonly sex: number;
  readonly address: number;
  readonly issuedOn: number;
}

/** `ID|old ID|name|dob|sex|address|issue date`, the card as specified. */
const SEVEN: Layout = { id: 0, oldId: 1, name: 2, dob: 3, sex: 4, address: 5, issuedOn: 6 };
/** `ID|name|dob|sex|address|issue date`, no old ID (usually `dd/MM/yyyy` dates). */
const SIX: Layout = { id: 0, oldId: -1, name: 1, dob: 2, sex: 3, address: 4, issuedOn: 5 };

/**
 * Field counts accepted, and their layout. 11 is the 2024 card (thẻ căn cước): the seven fields, then a cancelled
 * ID number, the father's and the mother's names and one more. Those four are other people's personal data: they are
 * neither validated, returned nor echoed.
 */
const LAYOUTS: ReadonlyMap<number, Layout> = new Map([
  [6, SIX],
  [7, SEVEN],
  [11, SEVEN],
]);

const SEX: ReadonlyMap<string, "M" | "F"> = new Map([
  ["nam", "M"],
  ["nữ", "F"],
  ["nu", "F"],
]);

const MIN_YEAR = 1900;
const MAX_YEAR = 2099;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

const reject = (detail: string): { readonly ok: false; readonly error: Rejection } =>
  err({ kind: "cccd", reason: "bad_format", detail });

function hasDigit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) return true;
  }
  return false;
}

/** How an ID-like field is described in a detail without repeating it. */
function describeNumber(s: string): string {
  if (s.length === 0) return "empty";
  return isDigits(s) ? `${s.length} digits` : `${s.length} characters, not all digits`;
}

/**
 * A date-like fragment is echoed only when it is short, made of digits and date punctuation, and holds too few digits
 * to be an ID number (9 or more); anything else is described by its length.
 */
function describeDateFragment(s: string): string {
  if (s.length === 0) return "empty";
  let digits = 0;
  let echo = s.length <= 10;
  for (let i = 0; i < s.length && echo; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (c !== 0x2f && c !== 0x2e && c !== 0x2d && c !== 0x20) echo = false;
  }
  if (echo && digits <= 8) return JSON.stringify(s);
  return describeNumber(s);
}

/** Two or four ASCII digits at `at` as a number, or -1. */
function num(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/**
 * Parses `ddmmyyyy` or `dd/MM/yyyy` into `YYYY-MM-DD`, or returns a problem (without the field label).
 * Either form is accepted in every layout: the field count alone decides the layout, so this is never ambiguous.
 */
export function parseCardDate(s: string): { iso: string } | { problem: string } {
  let d: number, m: number, y: number;
  if (s.length === 8) {
    d = num(s, 0, 2);
    m = num(s, 2, 2);
    y = num(s, 4, 4);
  } else if (s.length === 10 && s.charCodeAt(2) === 0x2f && s.charCodeAt(5) === 0x2f) {
    d = num(s, 0, 2);
    m = num(s, 3, 2);
    y = num(s, 6, 4);
  } else {
    d = m = y = -1;
  }
  if (d < 0 || m < 0 || y < 0) {
    return { problem: `expected ddmmyyyy or dd/MM/yyyy, got ${describeDateFragment(s)}` };
  }
  if (y < MIN_YEAR || y > MAX_YEAR) {
    return { problem: `year ${y} is outside ${MIN_YEAR}..${MAX_YEAR} (got ${JSON.stringify(s)})` };
  }
  if (m < 1 || m > 12) return { problem: `month ${m} does not exist (got ${JSON.stringify(s)})` };
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = m === 2 && leap ? 29 : (DAYS_IN_MONTH[m - 1] ?? 0);
  if (d < 1 || d > days) {
    return { problem: `${JSON.stringify(s)} is not a calendar date (day ${d} of a ${days}-day month)` };
  }
  return {
    iso: `${y}-${m < 10 ? "0" : ""}${m}-${d < 10 ? "0" : ""}${d}`,
  };
}

const label = (index: number, what: string): string => `field ${index + 1} (${what})`;

/**
 * Parses the text of a CCCD QR code (docs/contract.md §3.1): the 7-field card, the 6-field form without the old ID, the 11-field
 * 2024 card (its last four fields are dropped unread); dates as `ddmmyyyy` or `dd/MM/yyyy`; sex `Nam`, `Nữ` or `Nu`
 * in any case; text in NFC or NFD (returned in NFC). Tolerates a leading BOM and trailing CR/LF/NUL.
 */
export function parseCccd(input: string): Result<CardCredential, Rejection> {
  const stripped = stripScannerNoise(input);
  if (stripped.length === 0) return reject("empty code");
  const ctl = findControl(stripped);
  if (ctl >= 0) {
    return reject(`control character ${codePointLabel(stripped.charCodeAt(ctl))} at offset ${ctl}`);
  }
  const fields = stripped.normalize("NFC").split("|");
  const layout = LAYOUTS.get(fields.length);
  if (layout === undefined) {
    return reject(`expected 6, 7 or 11 fields separated by "|", got ${fields.length}`);
  }

  const id = fields[layout.id] ?? "";
  if (id.length !== 12 || !isDigits(id)) {
    return reject(`${label(layout.id, "ID")}: expected 12 digits, got ${describeNumber(id)}`);
  }

  let oldId: string | null = null;
  if (layout.oldId >= 0) {
    const raw = fields[layout.oldId] ?? "";
    if (raw.length > 0) {
      if (raw.length < 9 || raw.length > 12 || !isDigits(raw)) {
        return reject(
          `${label(layout.oldId, "old ID")}: expected empty or 9 to 12 digits, got ${describeNumber(raw)}`,
        );
      }
      oldId = raw;
    }
  }

  const name = (fields[layout.name] ?? "").trim();
  if (name.length === 0) return reject(`${label(layout.name, "name")}: expected a name, got an empty field`);
  if (hasDigit(name)) return reject(`${label(layout.name, "name")}: expected a name, got text with digits`);

  const dobRaw = fields[layout.dob] ?? "";
  const dob = parseCardDate(dobRaw);
  if ("problem" in dob) return reject(`${label(layout.dob, "date of birth")}: ${dob.problem}`);

  const sexRaw = (fields[layout.sex] ?? "").trim();
  const sex = SEX.get(sexRaw.toLowerCase());
  if (sex === undefined) {
    const got =
      sexRaw.length === 0 ? "empty" : sexRaw.length <= 4 ? JSON.stringify(sexRaw) : `${sexRaw.length} characters`;
    return reject(`${label(layout.sex, "sex")}: expected Nam, Nữ or Nu, got ${got}`);
  }

  // The address may be empty: it does not identify anyone and a gate should not turn a person away over it.
  const address = (fields[layout.address] ?? "").trim();

  const issuedRaw = fields[layout.issuedOn] ?? "";
  const issued = parseCardDate(issuedRaw);
  if ("problem" in issued) return reject(`${label(layout.issuedOn, "issue date")}: ${issued.problem}`);

  if (dob.iso > issued.iso) {
    return reject(`date of birth ${dob.iso} is after issue date ${issued.iso}`);
  }

  return ok({ kind: "cccd", id, oldId, name, dob: dob.iso, sex, address, issuedOn: issued.iso });
}
