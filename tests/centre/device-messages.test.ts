import { describe, expect, it } from "vitest";
import { parseEventMessage, parseStateMessage } from "../../src/centre/device-messages.js";

const NOW = Date.parse("2021-08-01T02:00:00Z");

describe("parseStateMessage", () => {
  it("reads the contract's state payload", () => {
    const r = parseStateMessage("s", "d", '{"state":"online","ts":"2021-08-01T01:00:00.000Z","version":"0.1.0","bootId":"b"}', NOW);
    expect(r).toEqual({
      ok: true,
      value: { site: "s", device: "d", state: "online", tsMs: NOW - 3_600_000, version: "0.1.0", bootId: "b", receivedMs: NOW },
    });
  });

  it("reads a degraded state (a gate running with a fault)", () => {
    const r = parseStateMessage("s", "d", '{"state":"degraded","reason":"journal_unavailable","ts":"2021-08-01T01:00:00.000Z"}', NOW);
    expect(r.ok && r.value.state).toBe("degraded");
  });

  it("takes the time of receipt when ts is missing", () => {
    const r = parseStateMessage("s", "d", '{"state":"offline"}', NOW);
    expect(r.ok && r.value.tsMs).toBe(NOW);
  });

  it.each([
    ["nope", "payload is not JSON"],
    ["[]", "payload is not an object"],
    ['{"state":"sleeping"}', "state: expected online, degraded or offline"],
    ['{"state":"online","ts":"yesterday"}', "ts: expected an ISO-8601 time"],
  ])("refuses %s", (payload, error) => {
    expect(parseStateMessage("s", "d", payload, NOW)).toEqual({ ok: false, error });
  });
});

describe("parseEventMessage", () => {
  it("keys an event by its id when it has one", () => {
    const r = parseEventMessage("s", "d", '{"id":"e1","type":"door_forced","ts":"2021-08-01T01:00:00Z"}', NOW);
    expect(r.ok && r.value.key).toBe("s/d/e1");
    expect(r.ok && r.value.type).toBe("door_forced");
  });

  it("keys an event without id by its bytes, the same on redelivery", () => {
    const a = parseEventMessage("s", "d", Buffer.from('{"event":"disk_low"}'), NOW);
    const b = parseEventMessage("s", "d", '{"event":"disk_low"}', NOW + 5);
    const c = parseEventMessage("s", "d2", '{"event":"disk_low"}', NOW);
    expect(a.ok && b.ok && a.value.key === b.value.key).toBe(true);
    expect(a.ok && c.ok && a.value.key !== c.value.key).toBe(true);
  });

  it("refuses an event with no type", () => {
    expect(parseEventMessage("s", "d", "{}", NOW)).toEqual({ ok: false, error: "type: expected a string" });
  });
});

describe("strict reading", () => {
  it.each([
    ['{"state":"online","ts":1.5}', "ts: expected an ISO-8601 time"],
    ['{"state":"online","ts":"1"}', "ts: expected an ISO-8601 time"],
    ['{"state":"online","ts":"2021-02-30T00:00:00Z"}', "ts: not a real date and time"],
    ['{"state":"online","ts":"2019-12-31T23:59:59Z"}', "ts: outside 2020-01-01 to a day from now"],
    ['{"state":"online","site":"other"}', "site: the payload names another site than its topic"],
    ['{"state":"online","version":"1\\u0000"}', "version: holds a control character"],
  ])("refuses the state %s", (payload, error) => {
    expect(parseStateMessage("s", "d", payload, NOW)).toEqual({ ok: false, error });
  });

  it("refuses a state larger than 8 KB", () => {
    const r = parseStateMessage("s", "d", JSON.stringify({ state: "online", pad: "x".repeat(9000) }), NOW);
    expect(!r.ok && r.error).toMatch(/^payload too large \(\d+ bytes, at most 8192\)$/);
  });

  it("keeps an event type it does not know, and refuses one outside the code character set", () => {
    const r = parseEventMessage("s", "d", '{"type":"relay_fault","ts":"2021-08-01T01:00:00Z"}', NOW);
    expect(r.ok && r.value.type).toBe("relay_fault");
    expect(parseEventMessage("s", "d", '{"type":"\\u001b[2J"}', NOW)).toEqual({ ok: false, error: "type: holds a control character" });
  });

  it("refuses an event naming another device, and one of 200 KB", () => {
    expect(parseEventMessage("s", "d", '{"type":"door_held","device":"x"}', NOW).ok).toBe(false);
    const big = JSON.stringify({ type: "door_held", extra: Array.from({ length: 2500 }, (_, i) => ({ i, deep: { text: "x".repeat(64) } })) });
    expect(parseEventMessage("s", "d", big, NOW)).toMatchObject({ ok: false, error: expect.stringMatching(/^payload too large/) as unknown });
  });
});
