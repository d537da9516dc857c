/**
 * `qrgate collect --url URL [--db FILE|URL]`: the centre's entry collector (src/centre/collector.ts).
 * Logs are pino JSON lines on stderr. SIGTERM/SIGINT flush the pending batch, acknowledge it and exit 0.
 */
import { parseCommandLine } from "./command-line.js";
import { pino } from "pino";
import { Collector, defaultClientId } from "../centre/collector.js";
import { DEFAULT_DB, isPostgres, openEntryStore } from "../centre/open-store.js";
import { redactUrl } from "../centre/postgres-entry-store.js";
import { DEFAULT_ROOT } from "../contract/topics.js";
import { CliError } from "./cli-error.js";

const USAGE = `usage: qrgate collect --url URL [options]

Stores the fleet's entries, device states and events (MQTT 5 shared subscription, QoS 1,
acknowledged only after commit, de-duplicated by entry id).

  --url URL              broker, e.g. mqtt://broker:1883 or mqtts://… (required)
  --db FILE|URL          SQLite file (default ${DEFAULT_DB}) or postgres://user@host/db[?schema=NAME]
  --group NAME           shared subscription group (default collectors); collectors of one group
                         split the fleet's messages between them
  --client-id ID         MQTT client id; the broker keeps the session under it, so keep it stable
                         across restarts and unique per collector (default qrgate-collector-<host>-<group>)
  --root TOPIC           topic root (default ${DEFAULT_ROOT})
  --username U           broker user name
  --password P           broker password (or QRGATE_MQTT_PASSWORD)
  --retention-days N     delete entries and events older than N days (at start, then hourly)
  --batch-max N          most messages per transaction (default 1000)
  --linger-ms MS         wait up to MS for a batch to fill (default 0)
  --session-expiry-s S   how long the broker keeps our session while we are down (default 604800)
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  -h, --help             this help`;

function positiveInt(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("collect", {
    args: argv,
    options: {
      url: { type: "string" },
      db: { type: "string" },
      group: { type: "string" },
      "client-id": { type: "string" },
      root: { type: "string" },
      username: { type: "string" },
      password: { type: "string" },
      "retention-days": { type: "string" },
      "batch-max": { type: "string" },
      "linger-ms": { type: "string" },
      "session-expiry-s": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (values.url === undefined) throw new CliError("collect: --url is required (e.g. --url mqtt://localhost:1883)");
  const group = values.group ?? "collectors";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new CliError(`collect: --group '${group}': use letters, digits, - and _`);
  const level = values["log-level"] ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal"].includes(level)) {
    throw new CliError(`collect: --log-level '${level}': expected trace, debug, info, warn or error`);
  }
  const retentionDays = positiveInt("retention-days", values["retention-days"]);
  const batchMax = positiveInt("batch-max", values["batch-max"]);
  const lingerMs = positiveInt("linger-ms", values["linger-ms"], 0);
  const sessionExpirySeconds = positiveInt("session-expiry-s", values["session-expiry-s"]);
  const db = values.db ?? DEFAULT_DB;
  const password = values.password ?? process.env.QRGATE_MQTT_PASSWORD;

  const logger = pino({ level, base: { app: "qrgate-collect" } }, pino.destination({ fd: 2, sync: true }));
  const store = await openEntryStore(db);
  const collector = new Collector({
    store,
    url: values.url,
    logger,
    group,
    clientId: values["client-id"] ?? defaultClientId(group),
    ...(values.root !== undefined ? { root: values.root } : {}),
    ...(values.username !== undefined ? { username: values.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    ...(batchMax !== undefined ? { batchMax } : {}),
    ...(lingerMs !== undefined ? { lingerMs } : {}),
    ...(sessionExpirySeconds !== undefined ? { sessionExpirySeconds } : {}),
  });
  logger.info(
    { db: isPostgres(db) ? redactUrl(db) : db, store: store.kind, url: redactUrl(values.url), group, clientId: collector.clientId },
    "collector starting",
  );

  let stopping: Promise<void> | null = null;
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal }, "stopping");
      await collector.stop();
      await store.close();
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      stop(signal).then(
        () => resolve(0),
        (e: unknown) => {
          logger.error({ err: e instanceof Error ? e.message : String(e) }, "stop failed");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
  try {
    // A signal during start (broker still unreachable) stops the collector too.
    const first = await Promise.race([collector.start().then(() => "started" as const), done.then(() => "stopped" as const)]);
    if (first === "started") logger.info("collecting");
  } catch (e) {
    await stop("start-failed").catch(() => undefined);
    throw new CliError(`collect: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  return done;
}
