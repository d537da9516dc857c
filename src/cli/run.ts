import { parseCommandLine } from "./command-line.js";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { loadConfig } from "../config/load-config.js";
import { demoCodes, ensureDemoIssuer, seedDemoStatus } from "../demo/simulator-demo.js";
import { GateApp } from "../gate-app.js";
import type { ScanOutcome } from "../gate.js";
import { createLogger } from "../services/logger.js";
import { installLoopBlocker } from "../services/debug-hooks.js";
import { SdNotify } from "../services/sd-notify.js";
import { runProvisioningMode } from "../provisioning/provisioning-mode.js";
import { onFatal } from "./fatal.js";

const HELP = `usage: qrgate run [--config FILE]

Runs the gate: reads codes from the configured scanner, decides against the local
status table, journals each entry, pulses the relay on allow and publishes the
entries over MQTT. The configuration is --config FILE, else $QRGATE_CONFIG, else
/etc/qrgate/config.json, else the embedded simulator (codes on standard input,
simulated relay, store in ./data/, broker mqtt://127.0.0.1:1883).
Logs: JSON lines on stderr. Stops cleanly on SIGTERM, SIGINT or the end of standard
input, in under 2 s whatever the broker does, relay off first. Under systemd
(NOTIFY_SOCKET set) it sends READY=1 once started and WATCHDOG=1 pings.

Exit status: 0 stopped, 2 configuration or unusable path, 70 internal error.`;

/**
 * How long an orderly stop at the end of input waits for the outbox to drain when the broker is reachable. Short:
 * whatever is not acknowledged stays in the outbox for the next start, and a stop must take under 2 s.
 */
const DRAIN_ON_STOP_MS = 400;
/** A stop that takes longer than this exits anyway (relay off): a service manager must never wait on the gate. */
const STOP_HARD_LIMIT_MS = 1900;

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
  // Configuration problems (ConfigError) and unusable paths (StoreError) go up to main.ts, which maps them.
  let loaded = loadConfig(values.config);
  const log = createLogger(loaded.config.log.level);
  const notifier = new SdNotify(log.child({ module: "sd-notify" }));
  if (loaded.source.kind === "absent" || (loaded.source.kind === "file" && loaded.config.provisioning)) {
    // No config yet: wait for a signed provisioning code, then run the gate on the config it wrote.
    if (!(await runProvisioningMode(loaded.config, loaded.source.path, log, notifier))) return 0;
    loaded = loadConfig(loaded.source.path);
  }
  const demo = loaded.source.kind === "embedded";
  const config = demo ? await prepareDemo(loaded.config, log) : loaded.config;
  log.info({ config: loaded.source.kind === "file" ? loaded.source.path : "embedded simulator default" }, "configuration loaded");

  const app = new GateApp(config, log, { notifier });
  const removeFatalHook = onFatal((e) => {
    app.failSecure();
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, "crash: relay off, exiting");
    if (e instanceof Error) log.debug({ stack: e.stack }, "crash stack");
  });
  const removeDebugHook = installLoopBlocker(process.env, log);

  let done!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (done = resolve));
  let stopping = false;
  const stop = (why: string, drain: boolean): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "stopping");
    // Whatever a part does, the process is gone within STOP_HARD_LIMIT_MS with the relay off.
    const hardLimit = setTimeout(() => {
      app.failSecure();
      log.error({ ms: STOP_HARD_LIMIT_MS }, "stop overran its limit; exiting now");
      process.exit(0);
    }, STOP_HARD_LIMIT_MS);
    hardLimit.unref();
    void (async () => {
      app.failSecure();
      if (drain && app.session.connected) await app.drained(DRAIN_ON_STOP_MS);
      await app.stop();
      removeFatalHook();
      removeDebugHook();
      clearTimeout(hardLimit);
      done(0);
    })();
  };
  process.once("SIGTERM", () => stop("SIGTERM", false));
  process.once("SIGINT", () => stop("SIGINT", false));
  app.onScannerState((state, detail) => {
    if (state === "closed") stop(detail, true);
  });
  if (demo) {
    app.use(
      {
        name: "demo",
        start: () => {
          if (seedDemoStatus(app.status, app.clock.wallMs())) process.stdout.write("Seeded a demo status table (3 people).\n");
        },
        stop: () => undefined,
      },
      { after: "store" },
    );
    app.onOutcome(printOutcome);
  }
  try {
    await app.start();
  } catch (e) {
    // The parts already started are stopped (relay off); main.ts reports the error.
    removeFatalHook();
    removeDebugHook();
    throw e;
  }
  if (demo && !stopping) await printDemo(app);
  return finished;
}
