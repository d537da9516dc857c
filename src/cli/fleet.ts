/**
 * `qrgate fleet --url URL [--site S] [--json] [--once]`: the devices of a fleet, from their retained `state` and
 * `health` messages (src/fleet/fleet-view.ts), as a live table or one JSON snapshot for scripts.
 */
import type { IClientOptions, MqttClient } from "mqtt";
import { randomBytes } from "node:crypto";
import { DEFAULT_ROOT, isValidSegment, parseDeviceTopic } from "../contract/topics.js";
import { FleetView } from "../fleet/fleet-view.js";
import { renderFleetTable } from "../fleet/fleet-table.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const USAGE = `usage: qrgate fleet --url URL [--site S] [--json] [--once] [options]

Shows every device of the fleet (or of one site): state and since when, last entry,
outbox depth and age of its oldest row, status table version and age, scan p99 and
active alarms. A device that says online but sent no health for 3 of its health
periods is flagged SILENT. Reads the retained state and health messages, so it
shows the fleet at once, then follows it live.

  --url URL          broker, e.g. mqtt://broker:1883 (required)
  --site S           only this site
  --json             JSON: an array of {site, device, state, since, silent, ...}
  --once             print one snapshot and exit (0; 1 if the broker cannot be reached)
  --root TOPIC       topic root (default ${DEFAULT_ROOT})
  --username U       broker user name
  --password P       broker password (or QRGATE_MQTT_PASSWORD)
  --quiet-ms MS      --once: print when no retained message came for this long (default 300)
  --web PORT         serve the fleet dashboard on this port instead (see README)
  --bind ADDR        dashboard address (default 127.0.0.1; any other needs --user and --password-file)
  --user U           dashboard login user name
  --password-file F  file holding the dashboard login password (at least 8 characters)
  --key KEYFILE      the centre's private key: enables the command buttons (open, lockdown, normal, sync)
  -h, --help         this help`;

const CONNECT_TIMEOUT_MS = 10_000;
/** --once never waits longer than this for the retained messages to stop coming. */
const ONCE_MAX_WAIT_MS = 5000;
const REFRESH_MS = 1000;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("fleet", {
    args: argv,
    options: {
      url: { type: "string" },
      site: { type: "string" },
      json: { type: "boolean", default: false },
      once: { type: "boolean", default: false },
      root: { type: "string" },
      username: { type: "string" },
      password: { type: "string" },
      "quiet-ms": { type: "string" },
      web: { type: "string" },
      bind: { type: "string" },
      user: { type: "string" },
      "password-file": { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const url = values.url;
  if (url === undefined) throw new CliError("fleet: --url is required (e.g. --url mqtt://localhost:1883)");
  if (!/^(mqtts?|wss?):\/\/[^/]/.test(url)) throw new CliError(`fleet: --url '${url}': expected mqtt://, mqtts://, ws:// or wss://`);
  const site = values.site;
  if (site !== undefined && !isValidSegment(site)) throw new CliError(`fleet: --site '${site}': expected a-z, 0-9 and -, at most 64`);
  const root = values.root ?? DEFAULT_ROOT;
  if (!/^[^#+]+[^/#+]$/.test(root)) throw new CliError(`fleet: --root '${root}': not a topic root`);
  if (values.web !== undefined) {
    const { runFleetWeb } = await import("./fleet-web.js");
    return runFleetWeb(
      {
        url,
        root,
        site,
        username: values.username,
        password: values.password ?? process.env.QRGATE_MQTT_PASSWORD,
        web: values.web,
        bind: values.bind,
        user: values.user,
        passwordFile: values["password-file"],
        key: values.key,
      },
      async (client, keyPath, root) => {
        const { readCentrePrivateKey } = await import("../issuer/centre-key.js");
        const { KeyFileError } = await import("../issuer/key-files.js");
        const { SignedCommandSender } = await import("../fleet/signed-command-sender.js");
        try {
          return new SignedCommandSender(client, await readCentrePrivateKey(keyPath), root);
        } catch (e) {
          if (e instanceof KeyFileError) throw new CliError(`fleet: --key ${keyPath}: ${e.message}`);
          throw e;
        }
      },
    );
  }
  const quietMs = values["quiet-ms"] === undefined ? 300 : Number(values["quiet-ms"]);
  if (!Number.isInteger(quietMs) || quietMs < 0 || quietMs > ONCE_MAX_WAIT_MS) {
    throw new CliError(`fleet: --quiet-ms '${values["quiet-ms"]}': expected an integer from 0 to ${ONCE_MAX_WAIT_MS}`);
  }
  const password = values.password ?? process.env.QRGATE_MQTT_PASSWORD;
  const once = values.once;
  const json = values.json;

  const view = new FleetView();
  let lastMessageMs = Date.now();
  const mqtt = await import("mqtt");
  const opts: IClientOptions = {
    protocolVersion: 5,
    clientId: `qrgate-fleet-${randomBytes(6).toString("hex")}`,
    clean: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectPeriod: once ? 0 : 2000,
    ...(values.username !== undefined ? { username: values.username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
  const client: MqttClient = mqtt.connect(url, opts);
  client.on("message", (topic, payload, packet) => {
    const t = parseDeviceTopic(root, topic);
    if (t === null || !isValidSegment(t.site) || !isValidSegment(t.device)) return;
    lastMessageMs = Date.now();
    const arrival = { receivedMs: Date.now(), retained: packet.retain };
    const err = t.kind === "state" ? view.applyState(t.site, t.device, payload, arrival) : t.kind === "health" ? view.applyHealth(t.site, t.device, payload, arrival) : null;
    if (err !== null && !once) process.stderr.write(`qrgate fleet: ignored ${topic}: ${err}\n`);
  });

  const s = site ?? "+";
  const subscribed = new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => reject(new CliError(`fleet: cannot reach ${url}: ${e.message}`, 1));
    const timer = setTimeout(() => fail(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    client.once("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    client.once("connect", () => {
      client.subscribe([`${root}/${s}/+/state`, `${root}/${s}/+/health`], { qos: 1 }, (e) => {
        clearTimeout(timer);
        if (e) fail(e);
        else resolve();
      });
    });
  });
  try {
    await subscribed;
  } catch (e) {
    client.end(true);
    throw e;
  }
  client.on("error", (e) => process.stderr.write(`qrgate fleet: ${e.message}\n`));

  const print = (): string => {
    const now = Date.now();
    const rows = view.rows(now);
    return json ? JSON.stringify(rows, null, once ? 2 : 0) : renderFleetTable(rows, now);
  };

  if (once) {
    // MQTT has no "end of retained messages": they come right after the SUBACK, so wait until they stop.
    lastMessageMs = Date.now();
    const start = Date.now();
    while (Date.now() - lastMessageMs < quietMs && Date.now() - start < ONCE_MAX_WAIT_MS) {
      await new Promise((r) => setTimeout(r, 50));
    }
    process.stdout.write(print() + "\n");
    await new Promise<void>((r) => client.end(false, {}, () => r()));
    return 0;
  }

  const tty = process.stdout.isTTY;
  let previous = "";
  const timer = setInterval(() => {
    const out = print();
    if (tty) process.stdout.write("\x1b[H\x1b[2J" + out + "\n");
    else if (out !== previous) process.stdout.write(out + "\n" + (json ? "" : "\n"));
    previous = out;
  }, REFRESH_MS);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  clearInterval(timer);
  await new Promise<void>((r) => client.end(false, {}, () => r()));
  return 0;
}
