import { parseCommandLine } from "./command-line.js";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";
import { loadConfig } from "../config/load-config.js";
import { demoCodes, ensureDemoIssuer, seedDemoStatus } from "../demo/simulator-demo.js";
import { GateApp } from "../gate-app.js";
import type { ScanOutcome } from "../gate.js";
import { createLogger } from "../services/logger.js";
import { CliError } from "./cli-error.js";

const HELP = `usage: qrgate run [--config FILE]

Runs the gate: reads codes from the configured scanner, decides against the local
status table, journals each entry, pulses the relay on allow and publishes the
entries over MQTT. The configuration is --config FILE, else $QRGATE_CONFIG, else
/etc/qrgate/config.json, else the embedded simulator (codes on standard input,
simulated relay, store in ./data/, broker mqtt://127.0.0.1:1883).
Logs: JSON lines on stderr. Stops cleanly on SIGTERM or SIGINT (relay off).`;

/** How long an orderly stop waits for the outbox to drain when the broker is reachable. */
const DRAIN_ON_STOP_MS = 3000;

function printOutcome(o: ScanOutcome): void {
  const verdict = o.decision === "allow" ? "ALLOW" : "DENY ";
  const detail = o.detail !== null ? ` — ${o.detail}` : "";
  process.stdout.write(`${verdict} ${o.reason} [${o.kind}] ${o.totalMs.toFixed(1)} ms${detail}\n`);
}

async function prepareDemo(config: Config, log: Logger): Promise<Config> {
  const jwks = await ensureDemoIssuer(config.store.path);
  log.info({ issuerKeys: jwks }, "simulator: demo pass issuer ready");
  return { ...config, passes: { ...config.passes, issuerKeys: jwks } };
}

async function printDemo(app: GateApp): Promise<void> {
  const codes = await demoCodes(app.config.store.path, app.clock.wallMs());
  const out = [
    "",
    "qrgate simulator — no configuration found, so this is a demo gate:",
    `  scanner: standard input (paste a code, press Enter)   relay: simulated   store: ${app.config.store.path}`,
    `  entries are published to ${app.config.mqtt.url} (queued while no broker answers)`,
    "",
    "Demo codes to paste:",
    ...codes.flatMap((c) => [`  ${c.label} -> expect ${c.expect}`, `    ${c.text}`]),
    "",
    "Ctrl-C (or end of input) stops the gate.",
    "",
  ];
  process.stdout.write(out.join("\n") + "\n");
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("run", {
    args: argv,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  let loaded;
  try {
    loaded = loadConfig(values.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  const log = createLogger(loaded.config.log.level);
  const demo = loaded.source.kind === "embedded";
  const config = demo ? await prepareDemo(loaded.config, log) : loaded.config;
  log.info({ config: loaded.source.kind === "file" ? loaded.source.path : "embedded simulator default" }, "configuration loaded");

  let app: GateApp;
  try {
    app = new GateApp(config, log);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  const crash = (what: string) => (e: unknown) => {
    app.failSecure();
    log.fatal({ err: e instanceof Error ? (e.stack ?? e.message) : String(e) }, what);
    process.exit(70);
  };
  process.on("uncaughtException", crash("uncaught exception: relay off, exiting"));
  process.on("unhandledRejection", crash("unhandled rejection: relay off, exiting"));

  let done!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (done = resolve));
  const stop = (why: string, drain: boolean) => {
    log.info({ why }, "stopping");
    void (async () => {
      if (drain && app.session.connected) await app.drained(DRAIN_ON_STOP_MS);
      await app.stop();
      done(0);
    })();
  };
  process.once("SIGTERM", () => stop("SIGTERM", false));
  process.once("SIGINT", () => stop("SIGINT", false));
  app.onScannerState((state, detail) => {
    if (state === "closed") stop(detail, true);
  });
  if (demo) {
    if (seedDemoStatus(app.status, app.clock.wallMs())) process.stdout.write("Seeded a demo status table (3 people).\n");
    app.gate.onOutcome(printOutcome);
  }
  await app.start();
  if (demo) await printDemo(app);
  return finished;
}
