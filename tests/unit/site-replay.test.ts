import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { jtiHash, parseUsedPassesMessage, usedPassesTopic } from "../../src/contract/used-passes.js";
import { openDatabase } from "../../src/store/database.js";
import { UsedPasses } from "../../src/store/used-passes.js";
import { SiteReplay } from "../../src/uplink/site-replay.js";
import { FakeClock } from "../fakes/fake-clock.js";

const msg = (over: Record<string, unknown> = {}, nowS = 1_795_000_000) =>
  Buffer.from(JSON.stringify({ v: 1, ts: new Date(nowS * 1000).toISOString(), site: "hq", device: "gate-b", passes: [{ h: jtiHash("jti-1"), exp: nowS + 300 }], ...over }));

function setup() {
  const clock = new FakeClock(1_795_000_000_000);
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), "qrgate-replay-")), "gate.db"), { synchronous: "FULL" });
  const store = new UsedPasses(db);
  const queued: Array<[string, string]> = [];
  const alarms: Array<[string, string]> = [];
  const replay = new SiteReplay(
    { root: "qrgate/v1", site: "hq", device: "gate-a" },
    {
      store,
      queue: (t, p) => void queued.push([t, p]),
      kick: () => {},
      alarms: { raise: (t, d) => void alarms.push([t, d]) },
      clock,
      log: pino({ level: "silent" }),
    },
  );
  return { clock, db, store, queued, alarms, replay };
}

describe("parseUsedPassesMessage", () => {
  const nowS = 1_795_000_000;
  it.each<[string, Buffer]>([
    ["not JSON", Buffer.from("nope")],
    ["an array", Buffer.from("[]")],
    ["another version", msg({ v: 2 })],
    ["another site", msg({ site: "other" })],
    ["a bad device name", msg({ device: "Gate A" })],
    ["no passes", msg({ passes: [] })],
    ["too many passes", msg({ passes: Array.from({ length: 65 }, () => ({ h: jtiHash("x"), exp: nowS })) })],
    ["a short hash", msg({ passes: [{ h: "abc", exp: nowS }] })],
    ["an expiry far ahead", msg({ passes: [{ h: jtiHash("x"), exp: nowS + 3601 }] })],
    ["a fractional expiry", msg({ passes: [{ h: jtiHash("x"), exp: nowS + 0.5 }] })],
    ["an oversized payload", Buffer.alloc(9000, 0x20)],
  ])("refuses %s", (_w, payload) => {
    expect(parseUsedPassesMessage(payload, "hq", nowS).ok).toBe(false);
  });

  it("accepts a well-formed message", () => {
    expect(parseUsedPassesMessage(msg(), "hq", nowS).ok).toBe(true);
  });

  it("never throws, whatever the bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => void parseUsedPassesMessage(Buffer.from(b), "hq", nowS)));
    fc.assert(fc.property(fc.jsonValue(), (v) => void parseUsedPassesMessage(Buffer.from(JSON.stringify(v) ?? ""), "hq", nowS)));
  });
});

describe("SiteReplay", () => {
  it("records a pass used at another gate, so it is replayed here", () => {
    const { replay, store } = setup();
    expect(store.has("jti-1")).toBe(false);
    replay.handle(msg());
    expect(store.has("jti-1")).toBe(true);
    expect(store.has("jti-2")).toBe(false);
  });

  it("keeps a received pass until its expiry, across a reopen of the store", () => {
    const { replay, store, db, clock } = setup();
    replay.handle(msg());
    const nowS = Math.floor(clock.wallMs() / 1000);
    expect(store.purgeExpired(nowS + 300)).toBe(0);
    expect(store.has("jti-1")).toBe(true);
    expect(store.purgeExpired(nowS + 301)).toBe(1);
    expect(store.has("jti-1")).toBe(false);
    db.close();
  });

  it("ignores its own echo and passes already expired", () => {
    const { replay, store } = setup();
    replay.handle(msg({ device: "gate-a" }));
    replay.handle(msg({ passes: [{ h: jtiHash("jti-1"), exp: 1_794_999_999 }] }));
    expect(store.has("jti-1")).toBe(false);
    expect(replay.received).toBe(0);
  });

  it("publishes a pass used here as the hash of its jti, through the outbox", () => {
    const { replay, queued } = setup();
    replay.used("jti-9", 1_795_000_330);
    expect(queued).toHaveLength(1);
    expect(queued[0]![0]).toBe(usedPassesTopic("qrgate/v1", "hq"));
    const body = JSON.parse(queued[0]![1]) as Record<string, unknown>;
    expect(body).toMatchObject({ v: 1, site: "hq", device: "gate-a", passes: [{ h: jtiHash("jti-9"), exp: 1_795_000_330 }] });
    expect(queued[0]![1]).not.toContain("jti-9");
  });

  it("refuses bad messages with at most one event a minute", () => {
    const { replay, alarms, clock, store } = setup();
    for (let i = 0; i < 100; i++) replay.handle(Buffer.from(`junk ${i}`));
    expect(alarms).toHaveLength(1);
    expect(alarms[0]![0]).toBe("bad_message");
    clock.advance(60_000);
    replay.handle(Buffer.from("junk"));
    expect(alarms).toHaveLength(2);
    expect(alarms[1]![1]).toMatch(/^100 message/);
    expect(store.has("junk")).toBe(false);
  });
});
