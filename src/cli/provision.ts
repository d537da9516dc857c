/**
 * `qrgate provision`: turns a technician's answers (flags, or prompts on a terminal) into a gate's config.json, its
 * broker login, the lines the broker's admin adds, and optionally a signed `QGP1:` provisioning code.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { DEFAULT_ROOT, isValidSegment } from "../contract/topics.js";
import { ConfigError } from "../config/config-error.js";
import { loadConfig, schemaPath, validateConfig } from "../config/load-config.js";
import { KeyFileError, readPrivateKeyFile } from "../issuer/key-files.js";
import { mosquittoAclBlock } from "../provisioning/broker-acl.js";
import { BrokerCheckError, checkBrokerLogin, type BrokerLogin } from "../provisioning/broker-check.js";
import { CsrError, makeClientCsr } from "../provisioning/client-csr.js";
import { mosquittoPasswordLine, randomBrokerPassword } from "../provisioning/mosquitto-password.js";
import { signProvisioningCode } from "../provisioning/provisioning-signer.js";
import { qrPng } from "../provisioning/qr-png.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const USAGE = `usage: qrgate provision --site S --device D --door NAME --url URL --out DIR [options]
       qrgate provision … --qr FILE.png --key PROVISIONING_KEY [--out DIR]

Makes a gate's configuration and its broker login. Writes DIR/config.json (mode 0600), then prints the
line for the broker's password_file and the block for its acl_file (the login may write only this
device's topics and read only its commands, the status and the key set). Asks for what is missing when
run on a terminal.

  --site S                site name (a-z 0-9 -, at most 64)
  --device D              device name, unique within the site
  --door NAME             the door this reader guards
  --url URL               broker: mqtt://, mqtts://, ws://, wss://
  --scanner SPEC          serial:/dev/ttyACM0 (default), hid:VID:PID (hex), camera, stdin
  --relay-line N          GPIO line of the relay (BCM number); without it the relay is simulated
  --centre-key FILE       the centre's public key (copied into DIR, names centre.publicKey)
  --ca FILE               the broker's CA certificate (copied into DIR, names mqtt.ca)
  --tls                   client-certificate login: writes DIR/client.key and DIR/client.csr
                          (sign the CSR, put the certificate at DIR/client.crt) instead of a password
  --username U            broker login (default SITE.DEVICE)
  --store PATH            SQLite file (default /var/lib/qrgate/qrgate.db)
  --check                 log in with the new credentials and publish the device's state; alone with
                          --out DIR, checks the login already in DIR/config.json (once the admin added it)
  --qr FILE.png           also sign a QGP1: provisioning code (site, door, broker) with --key,
                          print it and write it as a QR code PNG; a gate in provisioning mode scans it
  --key FILE              the fleet's provisioning private key (qrgate keys gen --kid provisioning)
  --ttl DAYS              how long the code stays valid (default 7, at most 30)
  --out DIR               where to write config.json (required without --qr)
  --force                 replace an existing DIR/config.json
  -h, --help              show this help`;

const OPTIONS = {
  site: { type: "string" },
  device: { type: "string" },
  door: { type: "string" },
  url: { type: "string" },
  scanner: { type: "string" },
  "relay-line": { type: "string" },
  "centre-key": { type: "string" },
  ca: { type: "string" },
  tls: { type: "boolean", default: false },
  username: { type: "string" },
  store: { type: "string" },
  check: { type: "boolean", default: false },
  qr: { type: "string" },
  key: { type: "string" },
  ttl: { type: "string" },
  out: { type: "string" },
  force: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const DEFAULT_STORE = "/var/lib/qrgate/qrgate.db";
const MQTT_URL = /^(mqtts?|wss?):\/\/\S+$/;

type ScannerSection = Record<string, string | number>;

/** `serial:/dev/ttyACM0`, `hid:VID:PID`, `camera`, `stdin` -> the scanner section of the config. */
export function parseScannerSpec(spec: string): ScannerSection {
  if (spec === "camera" || spec === "stdin") return { type: spec };
  if (spec.startsWith("serial:") && spec.length > "serial:".length) return { type: "serial", path: spec.slice("serial:".length) };
  const hid = /^hid:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(spec);
  if (hid !== null) return { type: "hid", vendorId: parseInt(hid[1] ?? "", 16), productId: parseInt(hid[2] ?? "", 16) };
  throw new CliError(`provision: --scanner must be serial:PATH, hid:VID:PID (4 hex digits each), camera or stdin, got '${spec}'`);
}

interface Answers {
  site: string;
  device: string;
  door: string;
  url: string;
  scanner: string;
  relayLine: string | undefined;
  out: string | undefined;
}

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  return parseCommandLine("provision", { args: argv, options: OPTIONS });
}

/** Fills what the flags left out: asks on a terminal, else refuses naming every missing flag. */
async function answers(v: Values): Promise<Answers> {
  const required = ["site", "device", "door", "url"] as const;
  const missing: string[] = required.filter((k) => v[k] === undefined);
  if (v.out === undefined && v.qr === undefined) missing.push("out");
  const got: Record<string, string | undefined> = {
    site: v.site,
    device: v.device,
    door: v.door,
    url: v.url,
    scanner: v.scanner,
    relayLine: v["relay-line"],
    out: v.out,
  };
  if (missing.length > 0) {
    if (process.stdin.isTTY !== true) {
      throw new CliError(`provision: missing ${missing.map((m) => `--${m}`).join(", ")} (or run it on a terminal to be asked)`);
    }
    // Lines are queued as they come: answers typed (or pasted) ahead of their question are kept, not lost.
    const rl = createInterface({ input: process.stdin, terminal: false });
    const queued: string[] = [];
    let waiting: ((line: string | null) => void) | null = null;
    let ended = false;
    rl.on("line", (l) => {
      if (waiting !== null) {
        const w = waiting;
        waiting = null;
        w(l);
      } else queued.push(l);
    });
    rl.on("close", () => {
      ended = true;
      waiting?.(null);
    });
    const nextLine = (): Promise<string | null> =>
      queued.length > 0 ? Promise.resolve(queued.shift() ?? null) : ended ? Promise.resolve(null) : new Promise((r) => (waiting = r));
    try {
      const ask = async (key: string, question: string, check: (s: string) => boolean, dflt?: string): Promise<void> => {
        if (got[key] !== undefined) return;
        for (;;) {
          process.stdout.write(`${question}${dflt !== undefined ? ` [${dflt}]` : ""}: `);
          const line = await nextLine();
          if (line === null) throw new CliError("provision: input ended before every question was answered");
          const a = line.trim() || (dflt ?? "");
          if (check(a)) {
            got[key] = a === "" ? undefined : a;
            return;
          }
          process.stdout.write("  not valid, try again\n");
        }
      };
      await ask("site", "Site (a-z 0-9 -)", isValidSegment);
      await ask("device", "Device name (a-z 0-9 -)", isValidSegment);
      await ask("door", "Door", (s) => s.length >= 1 && s.length <= 64);
      await ask("url", "Broker URL", (s) => MQTT_URL.test(s));
      await ask("scanner", "Scanner (serial:/dev/ttyACM0, hid:VID:PID, camera)", (s) => /^(serial:.+|hid:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}|camera|stdin)$/.test(s), "serial:/dev/ttyACM0");
      await ask("relayLine", "Relay GPIO line (empty: simulated relay)", (s) => s === "" || /^\d{1,2}$/.test(s), "");
      if (v.qr === undefined) await ask("out", "Write the config into folder", (s) => s.length > 0, `./qrgate-${got.device ?? "gate"}`);
    } finally {
      rl.close();
    }
  }
  return {
    site: got.site ?? "",
    device: got.device ?? "",
    door: got.door ?? "",
    url: got.url ?? "",
    scanner: got.scanner ?? "serial:/dev/ttyACM0",
    relayLine: got.relayLine,
    out: got.out,
  };
}

function checkAnswers(a: Answers): void {
  if (!isValidSegment(a.site)) throw new CliError(`provision: --site must be 1 to 64 of a-z 0-9 - (not 'all'), got '${a.site}'`);
  if (!isValidSegment(a.device)) throw new CliError(`provision: --device must be 1 to 64 of a-z 0-9 - (not 'all'), got '${a.device}'`);
  if (a.door.length < 1 || a.door.length > 64) throw new CliError("provision: --door must be 1 to 64 characters");
  if (!MQTT_URL.test(a.url)) throw new CliError(`provision: --url must start with mqtt://, mqtts://, ws:// or wss://, got '${a.url}'`);
}

function relaySection(line: string | undefined): Record<string, string | number> {
  if (line === undefined || line === "") return { type: "sim" };
  if (!/^\d{1,2}$/.test(line) || Number(line) > 63) throw new CliError(`provision: --relay-line must be a GPIO line 0 to 63, got '${line}'`);
  return { type: "gpio", pin: Number(line) };
}


async function check(login: BrokerLogin, id: { root: string; site: string; device: string }, username: string): Promise<void> {
  try {
    const topic = await checkBrokerLogin(login, id);
    process.stdout.write(`check: logged in to ${login.url} as ${username} and published ${topic}: ok\n`);
  } catch (e) {
    if (e instanceof BrokerCheckError) throw new CliError(`provision --check: ${e.message}`, 1);
    throw e;
  }
}

/** `provision --check --out DIR` alone: checks the login of the config already there (after the admin added it). */
async function checkExisting(path: string): Promise<number> {
  let config;
  try {
    config = loadConfig(path).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`provision --check: ${e.message}`);
    throw e;
  }
  const m = config.mqtt;
  const login: BrokerLogin = {
    url: m.url,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(m.password !== undefined ? { password: m.password } : {}),
    ...(m.ca !== undefined ? { ca: m.ca } : {}),
    ...(m.cert !== undefined ? { cert: m.cert } : {}),
    ...(m.key !== undefined ? { key: m.key } : {}),
  };
  await check(login, { root: m.root, site: config.site, device: config.device }, m.username ?? "(client certificate)");
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv);
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const given = (["site", "device", "door", "url", "qr", "scanner", "relay-line", "username"] as const).some((k) => values[k] !== undefined);
  if (values.check && values.out !== undefined && !given && !values.tls && !values.force) {
    return checkExisting(join(resolve(values.out), "config.json"));
  }
  if (values.qr !== undefined && values.key === undefined) throw new CliError("provision: --qr needs --key, the fleet's provisioning private key");
  if (values.qr !== undefined && values.tls) throw new CliError("provision: --qr carries a password login; it cannot carry a client certificate (--tls)");
  const ttlDays = values.ttl === undefined ? 7 : Number(values.ttl);
  if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > 30) throw new CliError(`provision: --ttl must be 1 to 30 days, got '${values.ttl ?? ""}'`);

  const a = await answers(values);
  checkAnswers(a);
  const scanner = parseScannerSpec(a.scanner);
  const relay = relaySection(a.relayLine);
  const username = values.username ?? `${a.site}.${a.device}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(username)) throw new CliError(`provision: --username must be 1 to 64 of A-Z a-z 0-9 . _ -, got '${username}'`);
  const tlsUrl = a.url.startsWith("mqtts://") || a.url.startsWith("wss://");
  if (values.tls && !tlsUrl) throw new CliError("provision: --tls needs an mqtts:// or wss:// --url");
  const password = values.tls ? undefined : randomBrokerPassword();

  const out = a.out === undefined ? undefined : resolve(a.out);
  const configPath = out === undefined ? undefined : join(out, "config.json");
  if (configPath !== undefined && existsSync(configPath) && !values.force) {
    throw new CliError(`provision: ${configPath} exists; --force replaces it (and the device's broker password)`);
  }

  // Everything is decided and validated before anything is written.
  const mqtt: Record<string, string> = { url: a.url };
  if (values.tls) Object.assign(mqtt, { cert: "client.crt", key: "client.key" });
  else Object.assign(mqtt, { username, password: password as string });
  const raw: Record<string, unknown> = {
    $schema: schemaPath(),
    site: a.site,
    device: a.device,
    door: a.door,
    scanner,
    relay,
    mqtt,
    store: { path: values.store ?? DEFAULT_STORE },
  };
  const copies: Array<{ from: string; name: string; what: string }> = [];
  if (out !== undefined && values.ca !== undefined) {
    copies.push({ from: values.ca, name: "ca.pem", what: "--ca" });
    mqtt.ca = "ca.pem";
  }
  const centreKey = values["centre-key"];
  if (out !== undefined && centreKey !== undefined) {
    const name = centreKey.endsWith(".pem") ? "centre-key.pem" : "centre-key.json";
    copies.push({ from: centreKey, name, what: "--centre-key" });
    raw.centre = { publicKey: name };
  }
  for (const c of copies) if (!existsSync(c.from)) throw new CliError(`provision: ${c.what} ${c.from} does not exist`);
  try {
    validateConfig(structuredClone(raw), "the new configuration");
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`provision: ${e.problems.join("; ")}`);
    throw e;
  }

  if (out !== undefined) {
    mkdirSync(out, { recursive: true, mode: 0o700 });
    for (const c of copies) copyFileSync(c.from, join(out, c.name));
  }
  if (values.tls) {
    // out is set: --tls excludes --qr, and without --qr --out is required.
    try {
      makeClientCsr(username, join(out as string, "client.key"), join(out as string, "client.csr"));
    } catch (e) {
      if (e instanceof CsrError) throw new CliError(`provision: ${e.message}`, 1);
      throw e;
    }
  }

  const lines: string[] = [];
  if (configPath !== undefined) {
    writeFileSync(configPath, JSON.stringify(raw, null, 2) + "\n", { mode: 0o600 });
    // With --force the file existed: its old mode survives writeFileSync.
    chmodSync(configPath, 0o600);
    lines.push(`wrote ${configPath} (mode 0600); check it with: qrgate config check --config ${configPath}`);
  }
  if (values.tls) {
    lines.push(
      `wrote ${join(out as string, "client.key")} (0600) and ${join(out as string, "client.csr")} (CN=${username})`,
      `sign the CSR with the broker's CA and save the certificate as ${join(out as string, "client.crt")}`,
      "",
      "# broker (mosquitto.conf, on the TLS listener): the certificate's CN is the login",
      "require_certificate true",
      "use_identity_as_username true",
    );
  } else {
    lines.push(
      `broker login: ${username} (the password is in config.json${values.qr !== undefined ? " and in the provisioning code" : ""})`,
      "",
      "# add to the broker's password_file:",
      mosquittoPasswordLine(username, password as string),
    );
  }
  lines.push("", "# add to the broker's acl_file, then reload the broker:", mosquittoAclBlock({ username, root: DEFAULT_ROOT, site: a.site, device: a.device }));
  process.stdout.write(lines.join("\n") + "\n");

  if (values.qr !== undefined) {
    let key;
    try {
      key = await readPrivateKeyFile(values.key as string);
    } catch (e) {
      if (e instanceof KeyFileError) throw new CliError(`provision: ${e.message}`);
      throw e;
    }
    const code = signProvisioningCode(
      { site: a.site, device: a.device, door: a.door, mqtt: { url: a.url, username, password: password } },
      key,
      Math.floor(Date.now() / 1000),
      ttlDays * 86_400,
    );
    writeFileSync(values.qr, await qrPng(code), { mode: 0o600 });
    process.stdout.write(`\n# provisioning code (valid ${ttlDays} days; it holds the broker password: keep it like one), also in ${values.qr}:\n${code}\n`);
  }

  if (values.check) {
    if (values.tls && !existsSync(join(out as string, "client.crt"))) {
      throw new CliError(`provision: --check needs the signed certificate at ${join(out as string, "client.crt")} first`, 1);
    }
    await check(
      {
        url: a.url,
        ...(password !== undefined ? { username, password } : {}),
        ...(out !== undefined && mqtt.ca !== undefined ? { ca: join(out, mqtt.ca) } : {}),
        ...(values.tls ? { cert: join(out as string, "client.crt"), key: join(out as string, "client.key") } : {}),
      },
      { root: DEFAULT_ROOT, site: a.site, device: a.device },
      username,
    );
  }
  return 0;
}
