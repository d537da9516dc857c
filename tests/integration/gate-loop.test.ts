import { describe, expect, it } from "vitest";
import { pseudonymize } from "../../src/contract/pseudonym.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { parseJwks } from "../../src/core/jwks.js";
import { generateIssuerKeyPair, publicJwkOf } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { StoreError } from "../../src/store/store-error.js";
import { CARD, makeHarness, ROW } from "../support/gate-harness.js";

const A = "001099012345";

describe("the gate loop", () => {
  it("journals the entry and its outbox row before it commands the relay", () => {
    let relayOnAtRecord: boolean | null = null;
    const h = makeHarness({
      rows: [ROW(A)],
      journal: (real) => ({
        record(r) {
          relayOnAtRecord = h.relay.isOn;
          real.record(r);
        },
      }),
    });
    const o = h.scan(CARD(A))!;
    expect(o.decision).toBe("allow");
    expect(relayOnAtRecord).toBe(false);
    expect(h.relay.isOn).toBe(true);
    const [row] = h.outbox.after(0, 10);
    expect(row?.topic).toBe("qrgate/v1/hq/gate-1/entry");
    expect(JSON.parse(row!.payload)).toEqual(o.entry);
    expect(h.kicks).toBe(1);
  });

  it("refuses with journal_unavailable and keeps the door shut when the journal cannot write", () => {
    const h = makeHarness({
      rows: [ROW(A)],
      journal: () => ({
        record() {
          throw new StoreError("E_STORE_WRITE", "database or disk is full");
        },
      }),
    });
    const o = h.scan(CARD(A))!;
    expect([o.decision, o.reason, o.entry]).toEqual(["deny", "journal_unavailable", null]);
    expect(h.relay.levels).toEqual([false]);
  });

  it("treats the same code again within dedupMs as one scan, and as a new scan after", () => {
    const h = makeHarness({ rows: [ROW(A)] });
    expect(h.scan(CARD(A))).not.toBeNull();
    h.clock.advance(1000);
    expect(h.scan(CARD(A))).toBeNull();
    h.clock.advance(1499);
    expect(h.scan(CARD(A))).toBeNull();
    h.clock.advance(1500);
    expect(h.scan(CARD(A))).not.toBeNull();
    expect(h.outbox.after(0, 10)).toHaveLength(2);
  });

  it("does not merge two different codes however close", () => {
    const h = makeHarness({ rows: [ROW(A), ROW("001099000222")] });
    expect(h.scan(CARD(A))).not.toBeNull();
    expect(h.scan(CARD("001099000222"))).not.toBeNull();
    expect(h.scan(CARD(A))).not.toBeNull();
  });

  it("denies budget_exceeded when the decision overruns budgetMs, and does not open", () => {
    const h = makeHarness({ rows: [ROW(A)], settings: { budgetMs: 100 } });
    // The code was received 150 ms ago (it queued behind others).
    const o = h.gate.handle({ bytes: Buffer.from(CARD(A)), receivedMono: h.clock.monoMs() - 150 })!;
    expect([o.decision, o.reason, o.entry?.subject]).toEqual(["deny", "budget_exceeded", A]);
    expect(h.relay.isOn).toBe(false);
  });

  it("publishes the keyed hash instead of the ID when the site pseudonymizes", () => {
    const key = "site-secret-key-0123456789";
    const h = makeHarness({ rows: [ROW(A)], settings: { pseudonymizeKey: key } });
    const o = h.scan(CARD(A))!;
    expect(o.entry?.subject).toBe(pseudonymize(A, key));
    expect(h.db.prepare("SELECT count(*) AS n FROM entries WHERE subject = ?").get(A)).toEqual({ n: 0 });
    expect(h.outbox.after(0, 1)[0]?.payload).not.toContain(A);
  });

  it("marks entries stale once the table is older than maxCacheAgeHours, and still decides", () => {
    const h = makeHarness({ rows: [ROW(A)] });
    expect(h.scan(CARD(A))!.entry?.stale).toBe(false);
    h.clock.advance(72 * 3_600_000 + 1);
    const o = h.scan(CARD(A))!;
    expect([o.decision, o.entry?.stale]).toEqual(["allow", true]);
    h.clock.advance(2000);
    h.scan(CARD(A));
    // One alarm when it turns stale, not one per scan.
    expect(h.alarms.map(([e]) => e)).toEqual(["stale_cache"]);
  });

  it("refuses everything in lockdown, recording who tried", () => {
    const h = makeHarness({ rows: [ROW(A)] });
    h.gate.setMode("lockdown");
    const o = h.scan(CARD(A))!;
    expect([o.decision, o.reason, o.entry?.subject]).toEqual(["deny", "lockdown", A]);
  });

  it("refuses garbage with bad_format and keeps working", () => {
    const h = makeHarness({ rows: [ROW(A)] });
    for (const junk of [Buffer.from([0xff, 0xfe, 0x00, 0x41]), Buffer.alloc(10_240, 0x41), "https://example.com/x"]) {
      const o = h.scan(junk)!;
      expect([o.decision, o.reason, o.entry?.kind, o.entry?.subject]).toEqual(["deny", "bad_format", "unknown", null]);
      expect(o.detail).toBeTruthy();
      h.clock.advance(2000);
    }
    expect(h.scan(CARD(A))!.decision).toBe("allow");
    expect(h.outbox.after(0, 10)).toHaveLength(4);
  });

  it("remembers a used pass across a restart of the store", () => {
    const pair = generateIssuerKeyPair("EdDSA", "k1");
    const keys = parseJwks({ keys: [publicJwkOf(pair)] });
    if (!keys.ok) throw new Error(keys.error.join());
    const first = makeHarness({ rows: [ROW(A)], keys: keys.value });
    const pass = signPass({ privateKey: pair.privateKey, kid: "k1", alg: "EdDSA", sub: A, ttlS: 300, nowS: Math.floor(first.clock.wallMs() / 1000) });
    expect(first.scan(pass)!.reason).toBe("ok");
    first.db.close();
    const again = makeHarness({ keys: keys.value, dbPath: first.dbPath, clock: first.clock });
    expect(again.scan(pass)!.reason).toBe("replayed");
  });

  it("gives every entry a distinct UUIDv7 in time order", () => {
    const h = makeHarness({ rows: [ROW(A)] });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      ids.push((h.scan(CARD(A)) as { entry: EntryMessage }).entry.id);
      h.clock.advance(i % 2 === 0 ? 0 : 1600);
      h.scan(CARD("001099000999"));
    }
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(ids);
  });
});
