/** `parseEntryMessage`: what the centre accepts from a gate, strictly, and that no input makes it throw. */
import fc from "fast-check";
import { checkBatch } from "../../src/centre/row-refused.js";
import { describe, expect, it } from "vitest";
import { parseEntryMessage } from "../../src/contract/entry.js";
import { makeEntry } from "./generate.js";

const NOW = Date.parse("2021-08-02T00:00:00Z");
const at = { site: "market-1", device: "gate-1" };
const entry = (o: Record<string, unknown> = {}): string => JSON.stringify({ ...makeEntry(), ...o });

describe("parseEntryMessage", () => {
  it("takes a contract entry as it is", () => {
    const e = makeEntry();
    expect(parseEntryMessage(JSON.stringify(e), at, NOW)).toEqual({ ok: true, value: e });
  });

  it("ignores unknown fields and gives ts in its canonical UTC form", () => {
    const r = parseEntryMessage(entry({ ts: "2021-08-01T09:00:00+07:00", future: { a: [1, 2] } }), at, NOW);
    expect(r).toMatchObject({ ok: true, value: { ts: "2021-08-01T02:00:00.000Z" } });
    expect(r.ok && "future" in r.value).toBe(false);
  });

  it("keeps a reason and a kind of a newer gate", () => {
    expect(parseEntryMessage(entry({ reason: "geo_fence", kind: "dcc" }), at, NOW)).toMatchObject({ ok: true, value: { reason: "geo_fence", kind: "dcc" } });
  });

  it.each([
    [{ statusVersion: 1.5 }, "statusVersion"],
    [{ statusVersion: 1e30 }, "statusVersion"],
    [{ statusVersion: -1 }, "statusVersion"],
    [{ statusVersion: "7" }, "statusVersion"],
    [{ latencyMs: 1e300 }, "latencyMs"],
    [{ ts: "1" }, "ts"],
    [{ ts: 1e300 }, "ts"],
    [{ ts: "2021-08-01" }, "ts"],
    [{ ts: "2021-08-01T02:00:00" }, "ts"],
    [{ ts: "2021-13-01T02:00:00Z" }, "ts"],
    [{ ts: "2021-08-03T02:00:00Z" }, "ts"],
    [{ door: "d".repeat(65) }, "door"],
    [{ door: "" }, "door"],
    [{ door: "ma\u0000in" }, "door"],
    [{ door: "\u001b[31mred" }, "door"],
    [{ door: "exit\u202e" }, "door"],
    [{ door: "\ud800" }, "door"],
    [{ subject: "1".repeat(13) }, "subject"],
    [{ subject: "=cmd()" }, "subject"],
    [{ reason: "Bad Reason" }, "reason"],
    [{ kind: "x".repeat(65) }, "kind"],
    [{ decision: "maybe" }, "decision"],
    [{ stale: "no" }, "stale"],
    [{ id: "not-a-uuid" }, "id"],
    [{ site: "other-site" }, "another device than its topic"],
    [{ device: "gate-2" }, "another device than its topic"],
    [{ pad: "x".repeat(9000) }, "payload too large"],
  ])("refuses %j", (o, what) => {
    const r = parseEntryMessage(entry(o), at, NOW);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(what);
  });

  it("never throws, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string(), fc.uint8Array().map((a) => Buffer.from(a))), (payload) => {
        const r = parseEntryMessage(payload, at, NOW);
        expect(typeof r.ok).toBe("boolean");
      }),
    );
  });

  it("never accepts an entry with a field changed to a random JSON value, unless the value is still valid", () => {
    const keys = ["id", "ts", "site", "device", "door", "decision", "reason", "kind", "subject", "latencyMs", "statusVersion", "stale"];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue(), (k, v) => {
        const r = parseEntryMessage(entry({ [k]: v }), at, NOW);
        if (r.ok) {
          // Whatever passed is storable: safe integers, bounded strings without control characters.
          expect(Number.isSafeInteger(r.value.statusVersion)).toBe(true);
          expect(r.value.door.length).toBeLessThanOrEqual(64);
          expect(JSON.stringify(r.value)).not.toMatch(/\\u00[01]/);
        }
      }),
    );
  });

  it("accepts nothing the stores' own check refuses (the collector skips that check for parsed entries)", () => {
    const keys = ["id", "ts", "site", "device", "door", "decision", "reason", "kind", "subject", "latencyMs", "statusVersion", "stale"];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue(), (k, v) => {
        const r = parseEntryMessage(entry({ [k]: v }), at, NOW);
        // A fresh copy: not vouched for, so checkBatch reads every field.
        if (r.ok) expect(() => checkBatch({ entries: [{ ...r.value }], states: [], events: [], receivedMs: NOW })).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
