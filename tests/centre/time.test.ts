import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatLocal, formatLocalIso, parseDuration, parseTime } from "../../src/centre/time.js";

const HCM = "Asia/Ho_Chi_Minh";

describe("parseTime", () => {
  it.each([
    ["2021-08-01", HCM, "2021-07-31T17:00:00.000Z"],
    ["2021-08-01 10:15", HCM, "2021-08-01T03:15:00.000Z"],
    ["2021-08-01T10:15:30", HCM, "2021-08-01T03:15:30.000Z"],
    ["2021-08-01 10:15:30.250", HCM, "2021-08-01T03:15:30.250Z"],
    ["2021-08-01T03:15:00Z", HCM, "2021-08-01T03:15:00.000Z"],
    ["2021-08-01T10:15:00+07:00", "UTC", "2021-08-01T03:15:00.000Z"],
    ["2021-08-01 10:15", "UTC", "2021-08-01T10:15:00.000Z"],
    ["2021-03-28 03:30", "Europe/Paris", "2021-03-28T01:30:00.000Z"],
    ["2021-07-01 12:00", "Europe/Paris", "2021-07-01T10:00:00.000Z"],
  ])("reads %s in %s", (text, zone, iso) => {
    expect(new Date(parseTime(text, zone)).toISOString()).toBe(iso);
  });

  it.each(["yesterday", "2021-02-30", "2021-08-01 24:00", "01/08/2021", "2021-08-01T10:15+7"])("refuses %s", (text) => {
    expect(() => parseTime(text, HCM)).toThrow(RangeError);
  });

  it("round-trips any instant through the local form", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse("2000-01-01T00:00:00Z") / 1000, max: Date.parse("2040-01-01T00:00:00Z") / 1000 }), (s) => {
        const ms = s * 1000;
        expect(parseTime(formatLocal(ms, HCM), HCM)).toBe(ms);
      }),
    );
  });
});

describe("formatting", () => {
  it("shows local wall time and the zone's offset", () => {
    const ms = Date.parse("2021-08-01T03:15:30.250Z");
    expect(formatLocal(ms, HCM)).toBe("2021-08-01 10:15:30");
    expect(formatLocalIso(ms, HCM)).toBe("2021-08-01T10:15:30.250+07:00");
  });
});

describe("parseDuration", () => {
  it.each([
    ["15m", 900_000],
    ["90s", 90_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["500ms", 500],
    ["1.5h", 5_400_000],
  ])("reads %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["15", "m", "-5m", "0m", "15 minutes"])("refuses %s", (text) => {
    expect(() => parseDuration(text)).toThrow(RangeError);
  });
});
