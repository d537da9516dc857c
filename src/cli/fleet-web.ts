/**
 * `qrgate fleet --url URL --web PORT [--bind ADDR] [--key KEYFILE] [--user U --password-file F]`: the fleet
 * dashboard in a browser. Follows every device's retained `state` and `health` (the fleet view shared with the
 * text table) and their `entry` and `event` messages (counted for the device detail), and serves the page.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import { isValidSegment, parseDeviceTopic } from "../contract/topics.js";
import { DeviceActivity } from "../fleet/device-activity.js";
import { FleetDashboard, type CommandSender } from "../fleet/dashboard-server.js";
import { FleetView } from "../fleet/fleet-view.js";
import { isLoopback, type Login } from "../http/basic-auth.js";
import { createLogger } from "../services/logger.js";
import { CliError } from "./cli-error.js";

export interface FleetWebOptions {
  readonly url: string;
  readonly root: string;
  readonly site: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly web: string;
  readonly bind: string | undefined;
  readonly user: string | undefined;
  readonly passwordFile: string | undefined;
  readonly key: string | undefined;
}

/** Builds the command sender from the centre key file; null without one (the buttons are then off). */
export type CommandSenderFactory = (client: MqttClient, keyPath: string, root: string) => Promise<CommandSender>;

const CONNECT_TIMEOUT_MS = 10_000;

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`fleet: --web '${text}': expected a TCP port from 1 to 65535`);
  return port;
}

function readLogin(user: string | undefined, passwordFile: string | undefined, bind: string): Login | null {
  if (user === undefined && passwordFile === undefined) {
    if (isLoopback(bind)) return null;
    throw new CliError(`fleet: --bind ${bind} reaches beyond this machine: give --user U and --password-file FILE for a login`);
  }
  if (user === undefined || passwordFile === undefined) throw new CliError("fleet: --user and --password-file go together");
  if (user.length === 0 || user.includes(":")) throw new CliError("fleet: --user must be non-empty and without ':'");
  let password: string;
  try {
    password = readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new CliError(`fleet: --password-file ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (password.length < 8) throw new CliError(`fleet: --password-file ${passwordFile}: the password must have at least 8 characters`);
  return { user, password };
}

export async function runFleetWeb(o: FleetWebOptions, senderFactory: CommandSenderFactory | null): Promise<number> {
  const port = parsePort(o.web);
  const bind = o.bind ?? "127.0.0.1";
  const login = readLogin(o.user, o.passwordFile, bind);
  if (o.key !== undefined && senderFactory === null) throw new CliError("fleet: --key: this build cannot sign commands");
  const log = createLogger("info");
  const view = new FleetView();
  const activity = new DeviceActivity();

  const mqtt = await import("mqtt");
  const opts: IClientOptions = {
    protocolVersion: 5,
    clientId: `qrgate-fleet-web-${randomBytes(6).toString("hex")}`,
    clean: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectPeriod: 2000,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  };
  const client = mqtt.connect(o.url, opts);
  client.on("message", (topic, payload, packet) => {
    const t = parseDeviceTopic(o.root, topic);
    if (t === null || !isValidSegment(t.site) || !isValidSegment(t.device)) return;
    const now = Date.now();
    const arrival = { receivedMs: now, retained: packet.retain };
    let err: string | null = null;
    if (t.kind === "state") err = view.applyState(t.site, t.device, payload, arrival);
    else if (t.kind === "health") err = view.applyHealth(t.site, t.device, payload, arrival);
    else if (t.kind === "entry") err = activity.applyEntry(t.site, t.device, payload, now);
    else if (t.kind === "event") err = activity.applyEvent(t.site, t.device, payload);
    if (err !== null) log.debug({ topic, err }, "ignored a device message");
  });
  const s = o.site ?? "+";
  const topics = ["state", "health", "entry", "event"].map((k) => `${o.root}/${s}/+/${k}`);
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => reject(new CliError(`fleet: cannot reach ${o.url}: ${e.message}`, 1));
    const timer = setTimeout(() => fail(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    client.once("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    client.once("connect", () => {
      // QoS 0 for entries and events: the dashboard counts what it sees; the collector is the record.
      client.subscribe(topics, { qos: 0 }, (e) => {
        clearTimeout(timer);
        if (e) fail(e);
        else resolve();
      });
    });
  }).catch((e: unknown) => {
    client.end(true);
    throw e;
  });
  client.on("error", (e) => log.warn({ err: e.message }, "broker connection"));

  let commands: CommandSender | null = null;
  if (o.key !== undefined && senderFactory !== null) {
    try {
      commands = await senderFactory(client, o.key, o.root);
    } catch (e) {
      client.end(true);
      throw e instanceof CliError ? e : new CliError(`fleet: --key ${o.key}: ${(e as Error).message}`);
    }
  }

  const dashboard = new FleetDashboard({ port, bind, login, site: o.site ?? null }, view, activity, commands, () => Date.now(), log.child({ module: "dashboard" }));
  try {
    await dashboard.start();
  } catch (e) {
    client.end(true);
    throw new CliError(`fleet: cannot listen on ${bind}:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const host = bind.includes(":") ? `[${bind}]` : bind;
  log.info({ url: `http://${host}:${dashboard.port ?? port}/`, commands: commands !== null, login: login !== null }, "fleet dashboard listening");
  process.stdout.write(`qrgate fleet dashboard: http://${host}:${dashboard.port ?? port}/${commands === null ? " (commands off: no --key)" : ""}\n`);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await dashboard.stop();
  await new Promise<void>((r) => client.end(false, {}, () => r()));
  return 0;
}
