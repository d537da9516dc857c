/**
 * One suite, every store (the MQTT.js `abstractStoreTest` habit): `entryStoreContract` runs the same tests
 * against a fresh store from `build`, so SQLite and PostgreSQL can never drift apart.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeviceEvent, DeviceState, EntryQuery, EntryStore, IngestBatch, LeaseClaim, RejectedMessage } from "../../src/centre/entry-store.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { LATEST_VERSION } from "../../src/centre/migrations.js";
import { rankContacts, traceContacts } from "../../src/centre/trace-queries.js";
import { generateDataset, makeEntry, oracle, subjectId } from "./generate.js";

export interface StoreFactory {
  /** A fresh, empty, unmigrated store. */
  create(): Promise<EntryStore>;
  /** Removes whatever `create` made (file, schema). */
  destroy(store: EntryStore): Promise<void>;
}

const T0 = Date.parse("2021-08-01T02:00:00.000Z");
const MIN = 60_000;

function state(o: Partial<DeviceState> = {}): DeviceState {
  return {
    site: "market-1",
    device: "gate-1",
    state: "online",
    tsMs: T0,
    version: "0.1.0",
    bootId: "boot-1",
    receivedMs: T0 + 5,
    ...o,
  };
}

function event(o: Partial<DeviceEvent> = {}): DeviceEvent {
  return {
    key: "ev-1",
    site: "market-1",
    device: "gate-1",
    type: "door_forced",
    tsMs: T0,
    payload: '{"type":"door_forced"}',
    receivedMs: T0 + 5,
    ...o,
  };
}

function rejected(o: Partial<RejectedMessage> = {}): RejectedMessage {
  return { topic: "qrgate/v1/market-1/gate-1/entry", reason: "statusVersion: expected an integer", payload: Buffer.from("{}"), receivedMs: T0, ...o };
}

/** A nested JSON value whose text is at least `bytes` long. */
function nested(bytes: number): unknown {
  return { type: "door_forced", extra: Array.from({ length: Math.ceil(bytes / 90) }, (_, i) => ({ i, deep: { deeper: { text: "x".repeat(64) } } })) };
}

export function entryStoreContract(name: string, factory: StoreFactory): void {
  describe(`EntryStore contract: ${name}`, () => {
    let store: EntryStore;

    beforeEach(async () => {
      store = await factory.create();
      await store.migrate();
    });

    afterEach(async () => {
      await factory.destroy(store);
    });

    it("migrates to the latest version, and a second migrate changes nothing", async () => {
      expect(await store.schemaVersion()).toBe(LATEST_VERSION);
      expect(await store.migrate()).toBe(LATEST_VERSION);
    });

    it("stores entries idempotently by id and counts only new ones", async () => {
      const a = makeEntry({ tsMs: T0 });
      const b = makeEntry({ tsMs: T0 + 1000, subject: subjectId(2) });
      expect(await store.insertEntries([a, b])).toBe(2);
      expect(await store.insertEntries([a, b, a])).toBe(0);
      const c = makeEntry({ tsMs: T0 + 2000 });
      expect(await store.insertEntries([c, c])).toBe(1);
      expect(await store.countEntries()).toBe(3);
    });

    it("returns entries exactly as received, ts in ISO-8601 UTC", async () => {
      const e = makeEntry({ tsMs: T0 + 123, subject: null, kind: "unknown", stale: true, latencyMs: 3.25, statusVersion: 42 });
      await store.insertEntries([e]);
      const got = await store.entriesAtDoor(e, { fromMs: T0, toMs: T0 + 1000 });
      expect(got).toEqual([e]);
    });

    it("pages through passages that share one timestamp without losing or repeating any", async () => {
      const same = Array.from({ length: 20 }, () => makeEntry({ tsMs: T0 + 5 }));
      await store.insertEntries([makeEntry({ tsMs: T0 }), ...same, makeEntry({ tsMs: T0 + 9 })]);
      const ids: string[] = [];
      for await (const page of store.entryPages({ site: "market-1" }, { fromMs: T0, toMs: T0 + MIN }, {}, 3)) ids.push(...page.map((e) => e.id));
      expect(ids).toEqual((await store.entriesAtSite("market-1", { fromMs: T0, toMs: T0 + MIN })).map((e) => e.id));
      expect(ids).toHaveLength(22);
    });

    it("treats the range as half-open [from, to)", async () => {
      const at = makeEntry({ tsMs: T0 });
      const end = makeEntry({ tsMs: T0 + MIN });
      await store.insertEntries([at, end]);
      const got = await store.entriesAtDoor(at, { fromMs: T0, toMs: T0 + MIN });
      expect(got.map((e) => e.id)).toEqual([at.id]);
    });

    it("lists only allowed passages unless denied ones are asked for", async () => {
      const ok = makeEntry({ tsMs: T0 });
      const no = makeEntry({ tsMs: T0 + 1, decision: "deny", reason: "quarantine" });
      await store.insertEntries([ok, no]);
      const range = { fromMs: T0, toMs: T0 + MIN };
      expect((await store.entriesOfSubject(ok.subject!, range)).map((e) => e.id)).toEqual([ok.id]);
      expect((await store.entriesOfSubject(ok.subject!, range, { includeDenied: true })).map((e) => e.id)).toEqual([
        ok.id,
        no.id,
      ]);
    });

    it("keeps the newest device state and ignores an older or repeated one", async () => {
      expect(await store.upsertDeviceState(state({ tsMs: T0 + 10, state: "offline" }))).toBe(true);
      expect(await store.upsertDeviceState(state({ tsMs: T0 }))).toBe(false);
      expect(await store.upsertDeviceState(state({ tsMs: T0 + 10, state: "offline" }))).toBe(false);
      expect(await store.upsertDeviceState(state({ device: "gate-2" }))).toBe(true);
      const states = await store.deviceStates();
      expect(states.map((s) => [s.device, s.state, s.tsMs])).toEqual([
        ["gate-1", "offline", T0 + 10],
        ["gate-2", "online", T0],
      ]);
    });

    it("takes the will's offline over the online of the same boot, though the will's ts is older", async () => {
      await store.upsertDeviceState(state({ tsMs: T0 + 10, state: "online" }));
      expect(await store.upsertDeviceState(state({ tsMs: T0, state: "offline" }))).toBe(true);
      expect(await store.upsertDeviceState(state({ tsMs: T0 + 5, state: "online", bootId: "boot-0" }))).toBe(false);
      expect((await store.deviceStates()).map((s) => s.state)).toEqual(["offline"]);
    });

    it("keeps a degraded state, newer than online, and lets the will's offline replace it", async () => {
      await store.upsertDeviceState(state({ tsMs: T0, state: "online" }));
      expect(await store.upsertDeviceState(state({ tsMs: T0 + 20, state: "degraded" }))).toBe(true);
      expect((await store.deviceStates()).map((s) => s.state)).toEqual(["degraded"]);
      expect(await store.upsertDeviceState(state({ tsMs: T0 + 1, state: "offline" }))).toBe(true);
      expect((await store.deviceStates()).map((s) => s.state)).toEqual(["offline"]);
    });

    it("stores events idempotently by key", async () => {
      expect(await store.insertEvent(event())).toBe(true);
      expect(await store.insertEvent(event())).toBe(false);
      expect(await store.insertEvent(event({ key: "ev-2", tsMs: T0 + 1 }))).toBe(true);
      expect((await store.events({ fromMs: T0, toMs: T0 + MIN })).map((e) => e.key)).toEqual(["ev-1", "ev-2"]);
    });

    it("commits entries, states and events of a batch together", async () => {
      const r = await store.commitBatch({
        entries: [makeEntry({ tsMs: T0 }), makeEntry({ tsMs: T0 + 1 })],
        states: [state()],
        events: [event()],
        receivedMs: T0 + 10,
      });
      expect(r).toEqual({ newEntries: 2, newEvents: 1, statesApplied: 1 });
    });

    it("rolls back the whole batch when one row is refused", async () => {
      const bad = { ...makeEntry({ tsMs: T0 + 1 }), decision: "maybe" } as unknown as ReturnType<typeof makeEntry>;
      await expect(
        store.commitBatch({ entries: [makeEntry({ tsMs: T0 }), bad], states: [state()], events: [], receivedMs: T0 }),
      ).rejects.toThrow();
      expect(await store.countEntries()).toBe(0);
      expect(await store.deviceStates()).toEqual([]);
    });

    it("purges entries and events older than the cut-off", async () => {
      // A cut-off at midnight UTC: PostgreSQL drops entries by whole days (see EntryStore.purge).
      const cut = Date.parse("2021-08-01T00:00:00.000Z");
      await store.insertEntries([makeEntry({ tsMs: cut - 1 }), makeEntry({ tsMs: cut }), makeEntry({ tsMs: cut + 1 })]);
      await store.insertEvent(event({ tsMs: cut - 1 }));
      await store.commitBatch({ entries: [], states: [], events: [], rejected: [rejected({ receivedMs: cut - 1 }), rejected({ receivedMs: cut })], receivedMs: cut });
      expect(await store.purge(cut)).toEqual({ entries: 1, events: 1, rejected: 1 });
      expect(await store.countEntries()).toBe(2);
      expect(await store.rejectedMessages({ fromMs: 0, toMs: cut + MIN })).toHaveLength(1);
    });

    it("keeps rejected messages: topic, reason, payload bytes and time", async () => {
      const bytes = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x22]); // NUL and invalid UTF-8: kept as bytes
      await store.commitBatch({ entries: [], states: [], events: [], rejected: [rejected({ payload: bytes })], receivedMs: T0 });
      expect(await store.rejectedMessages({ fromMs: T0, toMs: T0 + 1 })).toEqual([rejected({ payload: bytes })]);
    });

    describe("collector leases", () => {
      const HOUR = 3_600_000;
      const claim = (o: Partial<LeaseClaim> = {}): LeaseClaim => ({ name: "c-a", group: "g", holder: "c-a", instance: "a1", ttlMs: HOUR, ...o });

      it("gives a free lease to its collector and shows it, unexpired, in its group only", async () => {
        expect(await store.acquireLease(claim())).toBe(true);
        const [lease, ...rest] = await store.leases("g");
        expect(rest).toEqual([]);
        expect(lease).toMatchObject({ name: "c-a", group: "g", holder: "c-a", instance: "a1", expired: false });
        expect(lease!.expiresMs - lease!.renewedMs).toBe(HOUR);
        expect(await store.leases("other")).toEqual([]);
      });

      it("refuses a held lease to another collector, and lets the holder's restart take it back", async () => {
        expect(await store.acquireLease(claim())).toBe(true);
        expect(await store.acquireLease(claim({ holder: "c-b", instance: "b1" }))).toBe(false);
        expect(await store.acquireLease(claim({ instance: "a2" }))).toBe(true);
        // The old process is fenced: its renewal and release fail.
        expect(await store.renewLease("c-a", "a1", HOUR)).toBe(false);
        expect(await store.releaseLease("c-a", "a1")).toBe(false);
        expect(await store.renewLease("c-a", "a2", HOUR)).toBe(true);
        expect((await store.leases("g"))[0]).toMatchObject({ holder: "c-a", instance: "a2" });
      });

      it("lets another collector take an expired lease, exactly one of several at once", async () => {
        expect(await store.acquireLease(claim({ ttlMs: 0 }))).toBe(true);
        expect((await store.leases("g"))[0]?.expired).toBe(true);
        const takers = ["b", "c", "d", "e"].map((x) => claim({ holder: `c-${x}`, instance: `${x}1` }));
        const won = await Promise.all(takers.map((t) => store.acquireLease(t)));
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = takers[won.indexOf(true)]!;
        expect((await store.leases("g"))[0]).toMatchObject({ name: "c-a", holder: winner.holder, instance: winner.instance, expired: false });
        // The collector itself, back, waits: its session is being taken over by someone else.
        expect(await store.acquireLease(claim({ instance: "a2" }))).toBe(false);
        expect(await store.renewLease("c-a", "a1", HOUR)).toBe(false);
      });

      it("frees a released lease for anyone; a renewal after release fails", async () => {
        expect(await store.acquireLease(claim({ holder: "c-b", instance: "b1" }))).toBe(true);
        expect(await store.releaseLease("c-a", "b1")).toBe(true);
        expect(await store.leases("g")).toEqual([]);
        expect(await store.renewLease("c-a", "b1", HOUR)).toBe(false);
        expect(await store.acquireLease(claim({ instance: "a3" }))).toBe(true);
      });

      it("renews the holder's lease from now", async () => {
        expect(await store.acquireLease(claim({ ttlMs: 0 }))).toBe(true);
        expect(await store.renewLease("c-a", "a1", HOUR)).toBe(true);
        expect((await store.leases("g"))[0]).toMatchObject({ expired: false, instance: "a1" });
        expect(await store.acquireLease(claim({ holder: "c-b", instance: "b1" }))).toBe(false);
      });
    });

    describe("refuses poison rows, the same way in both stores", () => {
      const good = (): EntryMessage => makeEntry({ tsMs: T0 });
      const cases: [string, () => IngestBatch][] = [
        ["statusVersion 1.5", () => entries({ statusVersion: 1.5 })],
        ["statusVersion 1e30", () => entries({ statusVersion: 1e30 })],
        ["a 4 KB door", () => entries({ door: "d".repeat(4096) })],
        ["a 1 MB door", () => entries({ door: "d".repeat(1 << 20) })],
        ["a 1 MB subject", () => entries({ subject: "1".repeat(1 << 20) })],
        ["a NUL character in the door", () => entries({ door: "ma\u0000in" })],
        ["ts '1'", () => entries({ ts: "1" })],
        ["an event with ts 1e300", () => ({ ...empty(), events: [event({ tsMs: 1e300 })] })],
        ["a state with ts 1.5", () => ({ ...empty(), states: [state({ tsMs: 1.5 })] })],
        ["a 200 KB nested event", () => ({ ...empty(), events: [event({ payload: JSON.stringify(nested(200 * 1024)) })] })],
      ];
      function empty(): IngestBatch {
        return { entries: [good()], states: [], events: [], receivedMs: T0 };
      }
      function entries(o: Partial<Record<keyof EntryMessage, unknown>>): IngestBatch {
        return { ...empty(), entries: [good(), { ...good(), ...o } as EntryMessage] };
      }

      it.each(cases)("%s: refused as data, nothing of the batch stored, the rest goes in", async (_name, batch) => {
        let refused: unknown = null;
        await store.commitBatch(batch()).catch((e: unknown) => (refused = e));
        expect(refused).not.toBeNull();
        expect(store.isDataError(refused)).toBe(true);
        expect(await store.countEntries()).toBe(0);
        expect(await store.deviceStates()).toEqual([]);
        expect(await store.insertEntries([good()])).toBe(1);
      });
    });

    it("finds contacts within the window at the same door of the site, whichever reader, never the subject themself", async () => {
      const f0 = subjectId(1);
      const p = makeEntry({ tsMs: T0, subject: f0 });
      const near = makeEntry({ tsMs: T0 + 14 * MIN, subject: subjectId(2) });
      const edge = makeEntry({ tsMs: T0 - 15 * MIN, subject: subjectId(3) });
      const far = makeEntry({ tsMs: T0 + 16 * MIN, subject: subjectId(4) });
      const otherDoor = makeEntry({ tsMs: T0 + MIN, subject: subjectId(5), door: "side" });
      const otherReader = makeEntry({ tsMs: T0 + MIN, subject: subjectId(6), device: "gate-2" });
      const otherSite = makeEntry({ tsMs: T0 + MIN, subject: subjectId(8), site: "clinic-9" });
      const denied = makeEntry({ tsMs: T0 + MIN, subject: subjectId(7), decision: "deny", reason: "red_zone" });
      const self = makeEntry({ tsMs: T0 + 2 * MIN, subject: f0 });
      const nobody = makeEntry({ tsMs: T0 + MIN, subject: null, kind: "unknown", decision: "deny", reason: "bad_format" });
      await store.insertEntries([p, near, edge, far, otherDoor, otherReader, otherSite, denied, self, nobody]);
      const report = await traceContacts(store, f0, { fromMs: T0, toMs: T0 + MIN }, 15 * MIN);
      expect(report.subjectPassages.map((e) => e.id)).toEqual([p.id]);
      expect(report.contacts.map((c) => [c.subject, c.sharedPassages, c.closestSeconds])).toEqual([
        [subjectId(6), 1, 60],
        [subjectId(2), 1, 14 * 60],
        [subjectId(3), 1, 15 * 60],
      ]);
      const site = await traceContacts(store, f0, { fromMs: T0, toMs: T0 + MIN }, 15 * MIN, { scope: "site" });
      expect(site.contacts.map((c) => c.subject)).toEqual([subjectId(5), subjectId(6), subjectId(2), subjectId(3)]);
      const withDenied = await traceContacts(store, f0, { fromMs: T0, toMs: T0 + MIN }, 15 * MIN, {
        includeDenied: true,
      });
      expect(withDenied.contacts.map((c) => c.subject)).toContain(subjectId(7));
    });

    it("ranks by shared passages, then by closeness", async () => {
      const f0 = subjectId(1);
      await store.insertEntries([
        makeEntry({ tsMs: T0, subject: f0 }),
        makeEntry({ tsMs: T0 + 60 * MIN, subject: f0 }),
        makeEntry({ tsMs: T0 + 10 * MIN, subject: subjectId(2) }),
        makeEntry({ tsMs: T0 + 65 * MIN, subject: subjectId(2) }),
        makeEntry({ tsMs: T0 + 30_000, subject: subjectId(3) }),
        makeEntry({ tsMs: T0 + 61 * MIN, subject: subjectId(4) }),
      ]);
      const report = await traceContacts(store, f0, { fromMs: T0, toMs: T0 + 120 * MIN }, 15 * MIN);
      expect(report.contacts.map((c) => [c.subject, c.sharedPassages, c.closestSeconds])).toEqual([
        [subjectId(2), 2, 300],
        [subjectId(3), 1, 30],
        [subjectId(4), 1, 60],
      ]);
      expect(report.contacts[0]!.passages.map((p) => p.deltaSeconds)).toEqual([600, 300]);
    });

    describe("against a generated ground truth", () => {
      const data = generateDataset(20211, 1500, 60, 6);
      const f = { fromMs: data.startMs + 3_600_000, toMs: data.startMs + 4 * 3_600_000 };

      beforeEach(async () => {
        for (let i = 0; i < data.entries.length; i += 400) await store.insertEntries(data.entries.slice(i, i + 400));
      });

      it("answers who passed each door, in order", async () => {
        for (const d of data.doors) {
          expect(await store.entriesAtDoor(d, f)).toEqual(oracle.door(data.entries, d, f));
          expect(await store.entriesAtDoor(d, f, { includeDenied: true })).toEqual(
            oracle.door(data.entries, d, { ...f, includeDenied: true }),
          );
        }
      });

      it("answers who passed each door across its readers, in order", async () => {
        for (const d of [{ site: "market-1", door: "main" }, { site: "hospital-2", door: "main" }, { site: "market-1", door: "side" }]) {
          const want = oracle.siteDoor(data.entries, d, f);
          expect(new Set(want.map((e) => e.device)).size).toBeGreaterThan(d.door === "side" ? 0 : 1);
          expect(await store.entriesAtSiteDoor(d, f)).toEqual(want);
        }
      });

      it("pages every listing in the same order as the whole answer", async () => {
        const d = data.doors[0]!;
        const queries: [EntryQuery, EntryMessage[]][] = [
          [{ door: d }, oracle.door(data.entries, d, f)],
          [{ siteDoor: { site: "market-1", door: "main" } }, oracle.siteDoor(data.entries, { site: "market-1", door: "main" }, f)],
          [{ site: "hospital-2" }, oracle.site(data.entries, "hospital-2", f)],
          [{ subject: data.subjects[0]! }, oracle.subject(data.entries, data.subjects[0]!, f)],
        ];
        for (const [q, want] of queries) {
          const pages: EntryMessage[][] = [];
          for await (const page of store.entryPages(q, f, {}, 7)) pages.push(page);
          expect(pages.every((p) => p.length <= 7)).toBe(true);
          expect(pages.flat()).toEqual(want);
        }
      });

      it("answers who passed each site, in order", async () => {
        for (const site of ["market-1", "hospital-2", "nowhere"]) {
          expect(await store.entriesAtSite(site, f)).toEqual(oracle.site(data.entries, site, f));
        }
      });

      it("answers where and when each subject passed", async () => {
        for (const s of data.subjects.slice(0, 20)) {
          expect(await store.entriesOfSubject(s, f)).toEqual(oracle.subject(data.entries, s, f));
        }
      });

      it("answers the contacts of each subject for several windows", async () => {
        for (const s of data.subjects.slice(0, 12)) {
          for (const w of [5 * MIN, 15 * MIN]) {
            const pairs = await store.contactPairs(s, f, w);
            expect(rankContacts(pairs)).toEqual(oracle.contacts(data.entries, s, w, f));
          }
          const withDenied = await traceContacts(store, s, f, 15 * MIN, { includeDenied: true });
          expect(withDenied.contacts).toEqual(oracle.contacts(data.entries, s, 15 * MIN, { ...f, includeDenied: true }));
          const site = await traceContacts(store, s, f, 5 * MIN, { scope: "site" });
          expect(site.contacts).toEqual(oracle.contacts(data.entries, s, 5 * MIN, { ...f, scope: "site" }));
        }
      });
    });
  });
}
