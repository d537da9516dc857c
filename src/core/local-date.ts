/**
 * Calendar days as the people of a site count them: the date of an instant in an IANA time zone (a recovery
 * "180 days ago" is counted in local days, not UTC days; in Ho Chi Minh City a new day starts at 17:00 UTC).
 * Pure: `Intl` only, no clock.
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether this Node knows `zone` as an IANA time zone name. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The local calendar date of `ms` in `zone`, as the UTC midnight of that date (epoch ms); UTC if the zone is unknown. */
export function localDateMs(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (f === undefined) {
    const tz = isKnownTimeZone(zone) ? zone : "UTC";
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) if (part.type !== "literal") p[part.type] = Number(part.value);
  return Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1);
}

/** Whole local days from a `YYYY-MM-DD` date to the local date of `nowMs` in `zone`; NaN for a malformed date. */
export function localDaysSince(isoDate: string, nowMs: number, zone: string): number {
  return Math.round((localDateMs(nowMs, zone) - Date.parse(isoDate + "T00:00:00Z")) / DAY_MS);
}
