/**
 * Generated passages with a known answer: a seeded fleet of doors and people, and a brute-force oracle that
 * answers the three trace questions by scanning every entry (no SQL, no index), to check the stores against.
 */
import { randomUUID } from "node:crypto";
import type { EntryMessage } from "../../src/contract/entry.js";
import { seededRandom } from "../../src/sim/traffic.js";
import type { Contact, ContactPassage } from "../../src/centre/trace-queries.js";

/** The fleet simulator's seeded PRNG (mulberry32), so a failing seed can be replayed. */
export const prng = seededRandom;

/** A UUIDv7-shaped id: time-ordered prefix, random rest. */
export function uuid7(tsMs: number): string {
  const h = tsMs.toString(16).padStart(12, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

export function subjectId(n: number): string {
  return `0010990${String(n).padStart(5, "0")}`;
}

export interface EntryOverrides extends Partial<EntryMessage> {
  tsMs?: number;
}

export function makeEntry(o: EntryOverrides = {}): EntryMessage {
  const tsMs = o.tsMs ?? Date.parse("2021-08-01T02:00:00.000Z");
  const { tsMs: _t, ...rest } = o;
  return {
    id: uuid7(tsMs),
    ts: new Date(tsMs).toISOString(),
    site: "market-1",
    device: "gate-1",
    door: "main",
    decision: "allow",
    reason: "ok",
    kind: "cccd",
    subject: subjectId(1),
    latencyMs: 12.5,
    statusVersion: 7,
    stale: false,
    ...rest,
  };
}

export interface Dataset {
  readonly entries: EntryMessage[];
  readonly doors: { site: string; device: string; door: string }[];
  readonly subjects: string[];
  readonly startMs: number;
  readonly endMs: number;
}

/** `n` passages of `people` people at a few doors of two sites over `hours` hours; about 1 in 8 denied. */
export function generateDataset(seed: number, n = 1500, people = 60, hours = 6): Dataset {
  const rnd = prng(seed);
  const doors = [
    { site: "market-1", device: "gate-1", door: "main" },
    { site: "market-1", device: "gate-1", door: "side" },
    { site: "market-1", device: "gate-2", door: "main" },
    { site: "hospital-2", device: "gate-1", door: "main" },
    { site: "hospital-2", device: "er", door: "main" },
  ];
  const subjects = Array.from({ length: people }, (_, i) => subjectId(i + 1));
  const startMs = Date.parse("2021-08-01T00:00:00.000Z");
  const endMs = startMs + hours * 3_600_000;
  const entries: EntryMessage[] = [];
  for (let i = 0; i < n; i++) {
    const door = doors[Math.floor(rnd() * doors.length)]!;
    const tsMs = startMs + Math.floor(rnd() * (endMs - startMs));
    const denied = rnd() < 0.125;
    const unreadable = rnd() < 0.02;
    entries.push(
      makeEntry({
        tsMs,
        ...door,
        decision: denied ? "deny" : "allow",
        reason: denied ? "insufficient_vaccination" : "ok",
        kind: unreadable ? "unknown" : "cccd",
        subject: unreadable ? null : subjects[Math.floor(rnd() * subjects.length)]!,
      }),
    );
  }
  return { entries, doors, subjects, startMs, endMs };
}

const tsOf = (e: EntryMessage): number => Date.parse(e.ts);
const byTime = (a: EntryMessage, b: EntryMessage): number =>
  tsOf(a) - tsOf(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export interface Filter {
  fromMs: number;
  toMs: number;
  includeDenied?: boolean;
  /** Contacts: at the same door of the site, any reader (default), or anywhere on the site. */
  scope?: "door" | "site";
}

const inRange = (e: EntryMessage, f: Filter): boolean =>
  tsOf(e) >= f.fromMs && tsOf(e) < f.toMs && (f.includeDenied === true || e.decision === "allow");

export const oracle = {
  door(all: readonly EntryMessage[], d: { site: string; device: string; door: string }, f: Filter): EntryMessage[] {
    return all.filter((e) => e.site === d.site && e.device === d.device && e.door === d.door && inRange(e, f)).sort(byTime);
  },
  /** Every reader of a door of a site. */
  siteDoor(all: readonly EntryMessage[], d: { site: string; door: string }, f: Filter): EntryMessage[] {
    return all.filter((e) => e.site === d.site && e.door === d.door && inRange(e, f)).sort(byTime);
  },
  site(all: readonly EntryMessage[], site: string, f: Filter): EntryMessage[] {
    return all.filter((e) => e.site === site && inRange(e, f)).sort(byTime);
  },
  subject(all: readonly EntryMessage[], subject: string, f: Filter): EntryMessage[] {
    return all.filter((e) => e.subject === subject && inRange(e, f)).sort(byTime);
  },
  /** Brute force over every pair; ranks independently of `rankContacts`. */
  contacts(all: readonly EntryMessage[], subject: string, windowMs: number, f: Filter): Contact[] {
    const mine = oracle.subject(all, subject, f);
    interface Acc {
      shared: Set<string>;
      closest: number;
      passages: Map<string, ContactPassage>;
    }
    const people = new Map<string, Acc>();
    for (const e of all) {
      if (e.subject === null || e.subject === subject) continue;
      if (f.includeDenied !== true && e.decision !== "allow") continue;
      for (const p of mine) {
        if (p.site !== e.site || (f.scope !== "site" && p.door !== e.door)) continue;
        const delta = tsOf(e) - tsOf(p);
        if (Math.abs(delta) > windowMs) continue;
        const acc: Acc = people.get(e.subject) ?? { shared: new Set(), closest: Infinity, passages: new Map() };
        people.set(e.subject, acc);
        acc.shared.add(p.id);
        acc.closest = Math.min(acc.closest, Math.abs(delta));
        const prev = acc.passages.get(e.id);
        if (prev === undefined || Math.abs(delta) / 1000 < Math.abs(prev.deltaSeconds)) {
          acc.passages.set(e.id, {
            id: e.id,
            ts: e.ts,
            site: e.site,
            device: e.device,
            door: e.door,
            decision: e.decision,
            subjectTs: p.ts,
            deltaSeconds: delta / 1000,
          });
        }
      }
    }
    return [...people.entries()]
      .map(([s, a]) => ({
        subject: s,
        sharedPassages: a.shared.size,
        closestSeconds: a.closest / 1000,
        passages: [...a.passages.values()].sort((x, y) => Date.parse(x.ts) - Date.parse(y.ts) || (x.id < y.id ? -1 : 1)),
      }))
      .sort(
        (x, y) =>
          y.sharedPassages - x.sharedPassages ||
          x.closestSeconds - y.closestSeconds ||
          (x.subject < y.subject ? -1 : x.subject > y.subject ? 1 : 0),
      );
  },
};
