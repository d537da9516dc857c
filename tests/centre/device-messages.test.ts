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

  it("takes the time of receipt when ts is missing", () => {
    const r = parseStateMessage("s", "d", '{"state":"offline"}', NOW);
    expect(r.ok && r.value.tsMs).toBe(NOW);
  });

  it.each([
    ["nope", "payload is not JSON"],
    ["[]", "payload is not an object"],
    ['{"state":"sleeping"}', "state: expected online or offline"],
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
