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
import { printable } from "../centre/trace-render.js";
import { SdNotify } from "../services/sd-notify.js";
import { CliError } from "./cli-error.js";
import { statSync, accessSync, constants } from "node:fs";
import { dirname, resolve } from "node:path";
import { parsePostgresUrl } from "../centre/postgres-entry-store.js";
import { MetricsServer } from "../centre/metrics-server.js";
import { CollectorTeam } from "../centre/collector-team.js";

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
  --retention-days N     delete entries and events older than N days (at start, then hourly;
                         PostgreSQL drops whole UTC days: entries stay up to N+1 days)
  --batch-max N          most messages per transaction (default 1000)
  --linger-ms MS         wait up to MS for a batch to fill (default 0)
  --receive-maximum N    most unacknowledged messages the broker may send (MQTT 5 Receive Maximum,
                         1-65535, default 4000)
  --max-held N           stop reading the broker's socket while more than N messages wait for their
                         commit (default twice the receive maximum): bounds memory when a broker
                         sends more than it was asked to
  --session-expiry-s S   how long the broker keeps our session while we are down (default 604800)
  --takeover on|off      collectors of one group on one store cover for each other (default on): each
                         holds a lease in the store; when one is gone for longer than the lease, another
                         takes over its broker session, stores what it held and hands its share to the
                         group (docs/centre.md)
  --lease-ttl-s S        how long a lease holds without renewal (default 10; renewed every S/5)
  --silence-alarm-min N  alarm (log, metrics) when gates are online but no entry came for N minutes
                         (default 15; 0: never)
  --metrics [HOST:]PORT  serve Prometheus metrics on http://HOST:PORT/metrics (default host: all)
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  -h, --help             this help`;

function positiveInt(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new CliError(`collect: --${name}: expected an integer >= ${min}, got '${printable(v)}'`);
  }
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
      "receive-maximum": { type: "string" },
      "max-held": { type: "string" },
      "session-expiry-s": { type: "string" },
      takeover: { type: "string" },
      "lease-ttl-s": { type: "string" },
      "silence-alarm-min": { type: "string" },
      metrics: { type: "string" },
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
  checkBrokerUrl(values.url);
  const group = values.group ?? "collectors";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new CliError(`collect: --group '${printable(group)}': use letters, digits, - and _`);
  if (values.root !== undefined && !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(values.root)) {
    throw new CliError(`collect: --root '${printable(values.root)}': segments of letters, digits, - and _, joined by / (no wildcards)`);
  }
  const clientId = values["client-id"];
  if (clientId !== undefined && !/^[\x21-\x7e]{1,128}$/.test(clientId)) {
    throw new CliError(`collect: --client-id '${printable(clientId)}': 1 to 128 visible ASCII characters`);
  }
  const level = values["log-level"] ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal"].includes(level)) {
    throw new CliError(`collect: --log-level '${printable(level)}': expected trace, debug, info, warn or error`);
  }
  const retentionDays = positiveInt("retention-days", values["retention-days"]);
  const batchMax = positiveInt("batch-max", values["batch-max"]);
  const lingerMs = positiveInt("linger-ms", values["linger-ms"], 0);
  const receiveMaximum = positiveInt("receive-maximum", values["receive-maximum"]);
  if (receiveMaximum !== undefined && receiveMaximum > 65_535) {
    throw new CliError(`collect: --receive-maximum: at most 65535 (MQTT 5), got ${receiveMaximum}`);
  }
  const maxHeld = positiveInt("max-held", values["max-held"]);
  const sessionExpirySeconds = positiveInt("session-expiry-s", values["session-expiry-s"]);
  const silenceMin = positiveInt("silence-alarm-min", values["silence-alarm-min"], 0);
  const takeover = values.takeover ?? "on";
  if (takeover !== "on" && takeover !== "off") throw new CliError(`collect: --takeover '${printable(takeover)}': expected on or off`);
  const leaseTtlS = positiveInt("lease-ttl-s", values["lease-ttl-s"]);
  const db = values.db ?? DEFAULT_DB;
  checkDb(db);
  const metricsAt = values.metrics === undefined ? undefined : parseListen(values.metrics);
  const password = values.password ?? process.env.QRGATE_MQTT_PASSWORD;

  const logger = pino({ level, base: { app: "qrgate-collect" } }, pino.destination({ fd: 2, sync: true }));
  let store: Awaited<ReturnType<typeof openEntryStore>>;
  try {
    store = await openEntryStore(db, { applicationName: "qrgate-collect" });
  } catch (e) {
    throw new CliError(printable(`collect: --db: cannot open ${isPostgres(db) ? redactUrl(db) : `'${db}'`}: ${(e as Error).message}`));
  }
  const name = clientId ?? defaultClientId(group);
  const team =
    takeover === "on"
      ? new CollectorTeam({
          store,
          logger,
          name,
          group,
          ...(leaseTtlS !== undefined ? { ttlMs: leaseTtlS * 1000 } : {}),
          adoption: {
            store,
            url: values.url,
            group,
            root: values.root ?? DEFAULT_ROOT,
            ...(values.username !== undefined ? { username: values.username } : {}),
            ...(password !== undefined ? { password } : {}),
            ...(batchMax !== undefined ? { batchMax } : {}),
          },
        })
      : null;
  const collector = new Collector({
    store,
    url: values.url,
    logger,
    group,
    clientId: name,
    ...(team !== null ? { mayConnect: () => team.mayConnect(), onFenced: () => team.standDown("fenced") } : {}),
    ...(values.root !== undefined ? { root: values.root } : {}),
    ...(values.username !== undefined ? { username: values.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    ...(batchMax !== undefined ? { batchMax } : {}),
    ...(lingerMs !== undefined ? { lingerMs } : {}),
    ...(receiveMaximum !== undefined ? { receiveMaximum } : {}),
    ...(maxHeld !== undefined ? { maxHeld } : {}),
    ...(sessionExpirySeconds !== undefined ? { sessionExpirySeconds } : {}),
    ...(silenceMin !== undefined ? { silenceAlarmMs: silenceMin * 60_000 } : {}),
  });

  let metrics: MetricsServer | null = null;
  if (metricsAt !== undefined) {
    const m = new MetricsServer({ ...metricsAt, stats: () => collector.stats, store });
    try {
      await m.start();
    } catch (e) {
      await store.close().catch(() => undefined);
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new CliError(printable(`collect: --metrics ${values.metrics!}: cannot listen (${code})`));
    }
    metrics = m;
    logger.info({ host: metricsAt.host ?? "*", port: m.port }, "metrics at /metrics");
  }

  logger.info(
    { db: isPostgres(db) ? redactUrl(db) : db, store: store.kind, url: redactUrl(values.url), group, clientId: collector.clientId },
    "collector starting",
  );

  // systemd (Type=notify): READY once subscribed, watchdog pings from the event loop; a no-op elsewhere.
  const notifier = new SdNotify(logger.child({ module: "sd-notify" }));
  let stopping: Promise<void> | null = null;
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal }, "stopping");
      notifier.stopping();
      notifier.close();
      await collector.stop();
      await team?.stop();
      await metrics?.stop();
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
    // Our lease was taken over (we were frozen or cut off from the store for longer than it holds): another
    // collector has our session now. Stop without touching it; a restart starts afresh once that is done.
    team?.onStandDown(() => {
      if (stopping !== null) return; // stopping anyway
      logger.error({ clientId: name }, "standing down: our lease was taken over, another collector has our session");
      stopping = (async () => {
        notifier.stopping();
        notifier.close();
        await team.stop();
        await collector.abandon();
        await metrics?.stop();
        await store.close();
      })();
      stopping.then(
        () => resolve(EXIT_STOOD_DOWN),
        () => resolve(EXIT_STOOD_DOWN),
      );
    });
  });
  try {
    // A signal during start (broker still unreachable) stops the collector too.
    const started = (async (): Promise<boolean> => {
      // The lease first: while another collector is taking over our last session, connecting would take it back.
      if (team !== null && !(await team.join(done))) return false;
      await collector.start();
      team?.watch();
      return true;
    })();
    const first = await Promise.race([
      started.then((ok) => (ok ? ("started" as const) : ("stopped" as const))),
      done.then(() => "stopped" as const),
    ]);
    if (first === "started") {
      logger.info("collecting");
      notifier.ready("collecting");
      notifier.startWatchdog();
    }
  } catch (e) {
    await stop("start-failed").catch(() => undefined);
    throw new CliError(printable(`collect: ${e instanceof Error ? e.message : String(e)}`), 1);
  }
  return done;
}

/** Exit status when the collector stood down for the collector that took its session over (systemd restarts it). */
const EXIT_STOOD_DOWN = 3;

const BROKER_SCHEMES = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"]);

/** A broker URL mqtt.js can connect to: one of its schemes and a host. */
function checkBrokerUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(`collect: --url '${printable(url)}' is not a URL (e.g. mqtt://broker:1883 or mqtts://broker:8883)`);
  }
  if (!BROKER_SCHEMES.has(u.protocol)) {
    throw new CliError(`collect: --url '${printable(redactUrl(url))}': expected mqtt://, mqtts://, ws:// or wss://`);
  }
  if (u.hostname === "") throw new CliError(`collect: --url '${printable(redactUrl(url))}' names no host`);
}

/** `--db`: a PostgreSQL URL that parses, or a SQLite file whose folder exists and can be written. */
function checkDb(db: string): void {
  if (isPostgres(db)) {
    try {
      parsePostgresUrl(db);
    } catch (e) {
      throw new CliError(printable(`collect: --db: ${(e as Error).message}`));
    }
    return;
  }
  const dir = dirname(resolve(db));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new CliError(printable(`collect: --db '${db}': folder '${dir}' does not exist`));
  }
  if (!isDir) throw new CliError(printable(`collect: --db '${db}': '${dir}' is not a folder`));
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new CliError(printable(`collect: --db '${db}': folder '${dir}' is not writable`));
  }
  try {
    if (statSync(db).isDirectory()) throw new CliError(printable(`collect: --db '${db}' is a folder`));
  } catch (e) {
    if (e instanceof CliError) throw e;
  }
}

/** `--metrics PORT` or `HOST:PORT` (`[::1]:PORT` for an IPv6 host). */
function parseListen(v: string): { host?: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) throw new CliError(`collect: --metrics '${printable(v)}': expected PORT or HOST:PORT`);
  const host = m[1]?.replace(/^\[|\]$/g, "");
  return host === undefined ? { port } : { host, port };
}
