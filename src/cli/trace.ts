/**
 * `qrgate trace`: the centre's questions over what `qrgate collect` stored (src/centre/trace-queries.ts).
 * Answers go to stdout (table, `--csv` or `--json`); `--html`/`--svg` draw the contacts picture into a file.
 */
import { readFileSync } from "node:fs";
import { parseCommandLine } from "./command-line.js";
import type { ContactScope, DoorRef, EntryQuery, EntryStore, SiteDoorRef, TimeRange } from "../centre/entry-store.js";
import { LATEST_VERSION } from "../centre/migrations.js";
import { DEFAULT_DB, isPostgres, openEntryStore } from "../centre/open-store.js";
import { renderHtml, renderSvg } from "../centre/trace-picture.js";
import { storedSubject, traceContacts } from "../centre/trace-queries.js";
import { contactChunks, entryPageChunks, printable, type TextFormat } from "../centre/trace-render.js";
import { checkZone, DEFAULT_DISPLAY_ZONE, parseDuration, parseTime } from "../centre/time.js";
import { isValidSegment } from "../contract/topics.js";
import { checkOutputPath, writePrivateFile, writeStdout } from "./answer-output.js";
import { trimPseudonymKey } from "../contract/pseudonym-key.js";
import { CliError } from "./cli-error.js";

const USAGE = `usage: qrgate trace [--db FILE|URL] QUESTION --from T --to T [options]

Questions (exactly one):
  --door D --site S              who passed door D of site S, in order, through any of its readers
  --door SITE/DEVICE/DOOR        who passed one reader of a door (also: --site S --door DEVICE/DOOR,
                                 or --site S --device X --door D)
  --site SITE                    who passed any door of the site, in order
  --subject ID                   where and when this person passed
  --contacts ID --window 15m     everyone who passed the same door of the same site (whichever reader)
                                 within the window of one of the person's passages, ranked by shared
                                 passages, then closeness (F0 -> F1)

Options:
  --db FILE|URL      SQLite file (default ${DEFAULT_DB}) or postgres://user@host/db[?schema=NAME]
  --from T, --to T   the range [from, to): YYYY-MM-DD, 'YYYY-MM-DD HH:mm[:ss]' in --tz, or ISO-8601
                     with a zone (2021-08-01T03:00:00Z, …+07:00) (required)
  --tz ZONE          zone for typed and displayed times (default ${DEFAULT_DISPLAY_ZONE}); stored times are UTC
  --key KEY          the site's pseudonym key: ID is hashed as the gates hash it (HMAC-SHA256);
  --key-file FILE      or read the key from FILE, or from QRGATE_SITE_KEY
  --scope door|site  with --contacts: the same door (default) or any door of the same site
  --include-denied   count denied entries too (by default only allowed passages: a denied person did
                     not pass the door)
  --json | --csv     machine-readable output (default: an aligned table)
  --out FILE         write the answer to FILE (mode 0600) instead of standard output
  --html FILE        with --contacts: write a self-contained page with the time line picture (mode 0600)
  --svg FILE         with --contacts: write the picture alone (mode 0600)
  -h, --help         this help`;

function door(values: { door?: string; site?: string; device?: string }): DoorRef | SiteDoorRef {
  const parts = (values.door ?? "").split("/");
  if (parts.length === 1 && values.site !== undefined && values.device === undefined) {
    // A door of a site, every reader of it.
    if (!isValidSegment(values.site)) throw new CliError(`trace: --site '${printable(values.site)}': [a-z0-9-], 1 to 64 characters`);
    if (parts[0]!.length === 0) throw new CliError("trace: the door name is empty");
    return { site: values.site, door: parts[0]! };
  }
  let ref: DoorRef;
  if (parts.length === 3) {
    if (values.site !== undefined || values.device !== undefined) {
      throw new CliError("trace: --door SITE/DEVICE/DOOR names the site and device already; drop --site/--device");
    }
    ref = { site: parts[0]!, device: parts[1]!, door: parts[2]! };
  } else if (parts.length === 2 && values.site !== undefined && values.device === undefined) {
    ref = { site: values.site, device: parts[0]!, door: parts[1]! };
  } else if (parts.length === 1 && values.site !== undefined && values.device !== undefined) {
    ref = { site: values.site, device: values.device, door: parts[0]! };
  } else {
    throw new CliError(
      "trace: a door is --door D --site S (every reader), or one reader: SITE/DEVICE/DOOR, --site S --door DEVICE/DOOR, --site S --device X --door D",
    );
  }
  if (!isValidSegment(ref.site) || !isValidSegment(ref.device)) {
    throw new CliError(`trace: '${printable(ref.site)}/${printable(ref.device)}': site and device are [a-z0-9-], 1 to 64 characters`);
  }
  if (ref.door.length === 0) throw new CliError("trace: the door name is empty");
  return ref;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("trace", {
    args: argv,
    options: {
      db: { type: "string" },
      door: { type: "string" },
      site: { type: "string" },
      device: { type: "string" },
      subject: { type: "string" },
      contacts: { type: "string" },
      window: { type: "string" },
      scope: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      tz: { type: "string" },
      key: { type: "string" },
      "key-file": { type: "string" },
      "include-denied": { type: "boolean" },
      json: { type: "boolean" },
      csv: { type: "boolean" },
      html: { type: "string" },
      svg: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }

  const asked = (["door", "subject", "contacts"] as const).filter((k) => values[k] !== undefined);
  let question: "door" | "site" | "subject" | "contacts";
  if (asked.length > 1) throw new CliError(`trace: ask one question at a time (got --${asked.join(", --")})`);
  else if (asked.length === 1) question = asked[0]!;
  else if (values.site !== undefined) question = "site";
  else throw new CliError("trace: ask a question: --door, --site, --subject or --contacts (see --help)");
  if (values.device !== undefined && question !== "door") throw new CliError("trace: --device goes with --door");
  if ((question === "subject" || question === "contacts") && values.site !== undefined) {
    throw new CliError(`trace: --site does not go with --${question}`);
  }

  const zone = values.tz ?? DEFAULT_DISPLAY_ZONE;
  try {
    checkZone(zone);
  } catch (e) {
    throw new CliError(`trace: --tz: ${printable((e as Error).message)}`);
  }
  if (values.from === undefined || values.to === undefined) throw new CliError("trace: --from and --to are required");
  let range: TimeRange;
  let windowMs = 0;
  try {
    range = { fromMs: parseTime(values.from, zone), toMs: parseTime(values.to, zone) };
    if (question === "contacts") {
      if (values.window === undefined) throw new RangeError("--contacts needs --window (e.g. --window 15m)");
      windowMs = parseDuration(values.window);
    } else if (values.window !== undefined) {
      throw new RangeError("--window goes with --contacts");
    }
  } catch (e) {
    throw new CliError(`trace: ${printable((e as Error).message)}`);
  }
  if (range.toMs <= range.fromMs) throw new CliError("trace: --to must be after --from");

  if (values.json === true && values.csv === true) throw new CliError("trace: --json or --csv, not both");
  const format: TextFormat = values.json === true ? "json" : values.csv === true ? "csv" : "table";
  if ((values.html !== undefined || values.svg !== undefined) && question !== "contacts") {
    throw new CliError("trace: --html and --svg draw a contact trace: use them with --contacts");
  }
  // Refuse an unusable output path before the query, not after it.
  if (values.out !== undefined) checkOutputPath("trace: --out", values.out);
  if (values.html !== undefined) checkOutputPath("trace: --html", values.html);
  if (values.svg !== undefined) checkOutputPath("trace: --svg", values.svg);
  // CSV going to a terminal is read by a person: show control characters escaped there, keep files exact.
  const renderOpts = { escapeCsv: values.out === undefined && process.stdout.isTTY === true };
  const emit = async (chunks: Iterable<string> | AsyncIterable<string>): Promise<void> => {
    if (values.out !== undefined) await writePrivateFile("trace: --out", values.out, chunks);
    else await writeStdout(chunks);
  };

  let key: string | undefined;
  if (values.key !== undefined && values["key-file"] !== undefined) throw new CliError("trace: --key or --key-file, not both");
  if (values["key-file"] !== undefined) {
    try {
      key = trimPseudonymKey(readFileSync(values["key-file"], "utf8"));
    } catch (e) {
      throw new CliError(`trace: --key-file: ${printable((e as Error).message)}`);
    }
  } else {
    key = values.key ?? process.env.QRGATE_SITE_KEY;
  }
  if (key !== undefined && key.length === 0) throw new CliError("trace: the site key is empty");
  if (key !== undefined && question !== "subject" && question !== "contacts") {
    throw new CliError("trace: --key hashes a subject ID: use it with --subject or --contacts");
  }

  let scope: ContactScope = "door";
  if (values.scope !== undefined) {
    if (question !== "contacts") throw new CliError("trace: --scope goes with --contacts");
    if (values.scope !== "door" && values.scope !== "site") throw new CliError(`trace: --scope '${printable(values.scope)}': expected door or site`);
    scope = values.scope;
  }
  const opts = { includeDenied: values["include-denied"] === true };
  const doorRef = question === "door" ? door(values) : null;
  if (question === "site" && !isValidSegment(values.site!)) {
    throw new CliError(`trace: --site '${printable(values.site!)}': [a-z0-9-], 1 to 64 characters`);
  }
  const db = values.db ?? DEFAULT_DB;
  const store = await open(db);
  try {
    switch (question) {
      case "door":
      case "site":
      case "subject": {
        // Listings can be any size: read page by page and written as they come, never held whole.
        const query: EntryQuery =
          question === "door"
            ? doorQuery(doorRef!)
            : question === "site"
              ? { site: values.site! }
              : { subject: storedSubject(values.subject!, key) };
        await emit(entryPageChunks(() => store.entryPages(query, range, opts), format, zone, renderOpts));
        break;
      }
      case "contacts": {
        // With a key, only the keyed hash is looked up, printed and drawn: the clear ID is never written.
        const report = await traceContacts(store, storedSubject(values.contacts!, key), range, windowMs, { ...opts, scope });
        await emit(contactChunks(report, format, zone, renderOpts));
        if (values.html !== undefined) await writePrivateFile("trace: --html", values.html, [renderHtml(report, { zone })]);
        if (values.svg !== undefined) await writePrivateFile("trace: --svg", values.svg, [renderSvg(report, { zone })]);
        break;
      }
    }
  } finally {
    await store.close();
  }
  return 0;
}

/** One reader (a device named) or every reader of the door. */
function doorQuery(ref: DoorRef | SiteDoorRef): EntryQuery {
  return "device" in ref ? { door: ref } : { siteDoor: ref };
}

async function open(db: string): Promise<EntryStore> {
  let store: EntryStore;
  try {
    store = await openEntryStore(db, {
      readonly: true,
      applicationName: "qrgate-trace",
      // An investigator's question over months may take a while; the collector's 30 s is for ingest.
      statementTimeoutMs: 600_000,
    });
  } catch (e) {
    const msg = (e as Error).message;
    throw new CliError(
      printable(
        isPostgres(db)
          ? `trace: cannot open ${db.replace(/:[^:@/]*@/, ":***@")}: ${msg}`
          : `trace: cannot open '${db}': ${msg} (is it where qrgate collect keeps it?)`,
      ),
    );
  }
  let version: number;
  try {
    version = await store.schemaVersion();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw new CliError(printable(`trace: cannot read ${isPostgres(db) ? "the database" : `'${db}'`}: ${(e as Error).message}`), 1);
  }
  if (version === 0) {
    await store.close();
    throw new CliError(printable(`trace: ${isPostgres(db) ? "the database" : `'${db}'`} holds no centre data (run qrgate collect first)`));
  }
  if (version > LATEST_VERSION) {
    await store.close();
    throw new CliError(`trace: the database is at schema ${version}, newer than this qrgate (${LATEST_VERSION}): upgrade qrgate`, 1);
  }
  return store;
}
