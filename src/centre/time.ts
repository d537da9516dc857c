/**
 * Time for the centre: instants are stored as UTC epoch milliseconds; people type and read local wall time in
 * an explicit IANA zone (default `Asia/Ho_Chi_Minh`, UTC+7 with no daylight saving).
 */

export const DEFAULT_DISPLAY_ZONE = "Asia/Ho_Chi_Minh";

/** Throws unless `zone` is an IANA zone name this Node knows. */
export function checkZone(zone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new RangeError(`unknown time zone '${zone}'`);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallTime(ms: number, zone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of `zone` from UTC at instant `ms`, in milliseconds (UTC+7 -> 25,200,000). */
export function zoneOffsetMs(ms: number, zone: string): number {
  const w = wallTime(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/;

/**
 * Parses a `--from`/`--to` value into UTC epoch ms: an ISO-8601 time with a zone (`2021-08-01T03:00:00Z`,
 * `…+07:00`) is taken as is; a local `YYYY-MM-DD`, `YYYY-MM-DD HH:mm[:ss]` (or with `T`) is wall time in `zone`.
 * Throws a RangeError naming what is wrong.
 */
export function parseTime(text: string, zone: string): number {
  const s = text.trim();
  if (ISO_WITH_ZONE.test(s)) {
    const ms = Date.parse(s);
    if (Number.isNaN(ms)) throw new RangeError(`'${text}' is not a valid time`);
    return ms;
  }
  const m = LOCAL.exec(s);
  if (m === null) {
    throw new RangeError(`'${text}' is not a time: use YYYY-MM-DD, 'YYYY-MM-DD HH:mm' (in ${zone}) or ISO-8601 with a zone`);
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((x) => (x === undefined ? 0 : Number(x)));
  const fields = { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! };
  const guessUtc = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second);
  const check = new Date(guessUtc);
  if (
    check.getUTCFullYear() !== fields.year ||
    check.getUTCMonth() !== fields.month - 1 ||
    check.getUTCDate() !== fields.day ||
    fields.hour > 23 ||
    fields.minute > 59 ||
    fields.second > 59
  ) {
    throw new RangeError(`'${text}' is not a valid date and time`);
  }
  const fracMs = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0"));
  // Two passes settle the offset, also on either side of a daylight-saving change.
  let ms = guessUtc - zoneOffsetMs(guessUtc, zone);
  ms = guessUtc - zoneOffsetMs(ms, zone);
  return ms + fracMs;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `15m`, `90s`, `2h`, `1d`, `500ms` into milliseconds. Throws a RangeError otherwise. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (m === null) throw new RangeError(`'${text}' is not a duration: use e.g. 90s, 15m, 2h, 1d`);
  const ms = Math.round(Number(m[1]) * (UNIT_MS[m[2]!] ?? 0));
  if (ms <= 0) throw new RangeError(`'${text}': a duration must be positive`);
  return ms;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** `+07:00` for an offset in ms. */
export function formatOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? "-" : "+";
  const abs = Math.abs(offsetMs) / 60_000;
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `2021-08-01 10:15:30` in `zone` (no offset: the header of a table names the zone). */
export function formatLocal(ms: number, zone: string): string {
  const w = wallTime(ms, zone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/** ISO-8601 with the zone's offset, e.g. `2021-08-01T10:15:30.250+07:00`. */
export function formatLocalIso(ms: number, zone: string): string {
  const w = wallTime(ms, zone);
  const frac = pad(((ms % 1000) + 1000) % 1000, 3);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.${frac}${formatOffset(zoneOffsetMs(ms, zone))}`;
}

/** ISO-8601 UTC with milliseconds, the wire and `--json` form. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString();
}
