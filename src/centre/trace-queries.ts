/**
 * The three questions of contact tracing, over any `EntryStore`:
 * (a) who passed a door (or any door of a site) in a time range, in order;
 * (b) where and when one subject passed;
 * (c) the F0 -> F1 list: everyone who passed the same door as the subject within a window of one of the
 *     subject's passages, ranked by how many of the subject's passages they shared, then by how close in time.
 *
 * Only allowed passages count unless `includeDenied` is set: a denied person stayed outside the door.
 * The ranking is pure (`rankContacts`) so both stores give the same answer from the same pairs.
 */
import type { EntryMessage } from "../contract/entry.js";
import { pseudonymize } from "../contract/pseudonym.js";
import type { ContactOptions, ContactPair, DoorRef, EntryStore, QueryOptions, SiteDoorRef, TimeRange } from "./entry-store.js";
import { entryTsMs } from "./entry-row.js";
import { formatUtc } from "./time.js";

/** One passage of a contact that fell within the window of a passage of the subject. */
export interface ContactPassage {
  readonly id: string;
  /** ISO-8601 UTC. */
  readonly ts: string;
  readonly site: string;
  readonly device: string;
  readonly door: string;
  readonly decision: EntryMessage["decision"];
  /** The subject's passage this one was closest to (ISO-8601 UTC). */
  readonly subjectTs: string;
  /** `ts - subjectTs` in seconds: negative when the contact passed first. */
  readonly deltaSeconds: number;
}

/** One person on the F1 list (`--json` prints an array of these). */
export interface Contact {
  /** As stored: the clear ID, or its keyed hash where the site pseudonymizes. */
  readonly subject: string;
  /** How many of the subject's passages this person shared (passed the same door within the window). */
  readonly sharedPassages: number;
  /** The smallest time distance to any of the subject's passages, in seconds. */
  readonly closestSeconds: number;
  /** This person's passages that fell within a window, in time order. */
  readonly passages: ContactPassage[];
}

export interface ContactReport {
  /** The subject as looked up (hashed when a key was given). */
  readonly subject: string;
  readonly windowMs: number;
  readonly range: TimeRange;
  /** The subject's own passages in the range, in time order. */
  readonly subjectPassages: EntryMessage[];
  readonly contacts: Contact[];
}

/**
 * Ranks contact pairs: by shared passages (distinct passages of the subject) descending, then closest time
 * ascending, then subject ascending so the order is total and stable across stores.
 */
export function rankContacts(pairs: readonly ContactPair[]): Contact[] {
  interface Acc {
    shared: Set<string>;
    closestMs: number;
    passages: Map<string, { entry: EntryMessage; subjectTsMs: number; deltaMs: number }>;
  }
  const by = new Map<string, Acc>();
  for (const pair of pairs) {
    const who = pair.entry.subject;
    if (who === null) continue;
    let acc = by.get(who);
    if (acc === undefined) {
      acc = { shared: new Set(), closestMs: Number.POSITIVE_INFINITY, passages: new Map() };
      by.set(who, acc);
    }
    acc.shared.add(pair.subjectEntryId);
    const deltaMs = entryTsMs(pair.entry) - pair.subjectTsMs;
    acc.closestMs = Math.min(acc.closestMs, Math.abs(deltaMs));
    const prev = acc.passages.get(pair.entry.id);
    if (
      prev === undefined ||
      Math.abs(deltaMs) < Math.abs(prev.deltaMs) ||
      (Math.abs(deltaMs) === Math.abs(prev.deltaMs) && pair.subjectTsMs < prev.subjectTsMs)
    ) {
      acc.passages.set(pair.entry.id, { entry: pair.entry, subjectTsMs: pair.subjectTsMs, deltaMs });
    }
  }
  const contacts: Contact[] = [];
  for (const [subject, acc] of by) {
    const passages = [...acc.passages.values()]
      .sort((a, b) => entryTsMs(a.entry) - entryTsMs(b.entry) || cmp(a.entry.id, b.entry.id))
      .map(
        (p): ContactPassage => ({
          id: p.entry.id,
          ts: p.entry.ts,
          site: p.entry.site,
          device: p.entry.device,
          door: p.entry.door,
          decision: p.entry.decision,
          subjectTs: formatUtc(p.subjectTsMs),
          deltaSeconds: p.deltaMs / 1000,
        }),
      );
    contacts.push({ subject, sharedPassages: acc.shared.size, closestSeconds: acc.closestMs / 1000, passages });
  }
  contacts.sort(
    (a, b) => b.sharedPassages - a.sharedPassages || a.closestSeconds - b.closestSeconds || cmp(a.subject, b.subject),
  );
  return contacts;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The subject as the store holds it: the clear ID, or its keyed hash when the site pseudonymizes and the
 * investigator gives the site key (the same HMAC the gate applies, `src/contract/pseudonym.ts`).
 */
export function storedSubject(id: string, key: string | undefined): string {
  return key === undefined ? id : pseudonymize(id, key);
}

/** A door: one reader (`DoorRef`, with a device) or every reader of the door (`SiteDoorRef`). */
export function traceDoor(store: EntryStore, door: DoorRef | SiteDoorRef, range: TimeRange, opts?: QueryOptions) {
  return "device" in door ? store.entriesAtDoor(door, range, opts) : store.entriesAtSiteDoor(door, range, opts);
}

export function traceSite(store: EntryStore, site: string, range: TimeRange, opts?: QueryOptions) {
  return store.entriesAtSite(site, range, opts);
}

export function traceSubject(store: EntryStore, subject: string, range: TimeRange, opts?: QueryOptions) {
  return store.entriesOfSubject(subject, range, opts);
}

export async function traceContacts(
  store: EntryStore,
  subject: string,
  range: TimeRange,
  windowMs: number,
  opts?: ContactOptions,
): Promise<ContactReport> {
  const [subjectPassages, pairs] = await Promise.all([
    store.entriesOfSubject(subject, range, opts),
    store.contactPairs(subject, range, windowMs, opts),
  ]);
  return { subject, windowMs, range, subjectPassages, contacts: rankContacts(pairs) };
}
