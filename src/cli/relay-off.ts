import { readFileSync } from "node:fs";
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";
import { loadConfig, validateConfig } from "../config/load-config.js";
import { systemClock } from "../drivers/clock.js";
import { buildGpio, buildRelay } from "../drivers/driver-factory.js";
import { createLogger } from "../services/logger.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const HELP = `usage: qrgate relay-off [--config FILE]

Drives the door relay's line to its locked level and exits: for systemd's
ExecStopPost (after a crash, a kill or a watchdog restart, when the gate itself could
not) and for technicians. Reads relay.pin, relay.activeLow and gpio from the same
configuration as 'qrgate run'. With a simulated relay there is nothing to do.
Exit status: 0 locked (or nothing to lock), 1 the line could not be driven, 2 usage.`;

/**
 * The configuration as `run` reads it, without checking the files it names; if the rest of it is broken (the very
 * reason the gate may have died), only its `relay` and `gpio` keys: locking the door must not wait on a CA file.
 */
function relayConfig(path: string | undefined): Config {
  try {
    return loadConfig(path, process.env, { checkFiles: false }).config;
  } catch (e) {
    if (!(e instanceof ConfigError) || path === undefined) throw e;
    let raw: { relay?: unknown; gpio?: unknown };
    try {
      raw = JSON.parse(readFileSync(path, "utf8")) as { relay?: unknown; gpio?: unknown };
    } catch {
      throw e;
    }
    const config = validateConfig({ relay: raw.relay ?? {}, gpio: raw.gpio ?? {} }, path);
    process.stderr.write(`qrgate: relay-off: ${path} has problems (${e.problems.join("; ")}); using its relay and gpio keys\n`);
    return config;
  }
}

/** Exit status when the line could not be driven: systemd shows it, a technician must look. */
const EXIT_NOT_LOCKED = 1;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine("relay-off", {
    args: argv,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const config = relayConfig(values.config);
  if (config.relay.type !== "gpio") {
    process.stdout.write(`relay.type is ${config.relay.type}: no line to switch off\n`);
    return 0;
  }
  const log = createLogger("warn");
  const gpio = buildGpio(config, systemClock, log);
  const relay = buildRelay(config, systemClock, log, gpio);
  try {
    // start claims the line already at the locked level and writes it; stop writes it again and releases it.
    await relay.start();
    await relay.stop();
  } catch (e) {
    throw new CliError(`relay-off: GPIO${config.relay.pin ?? "?"} not locked: ${(e as Error).message}`, EXIT_NOT_LOCKED);
  }
  process.stdout.write(`relay off: GPIO${config.relay.pin ?? "?"} at its locked level (${gpio.name})\n`);
  return 0;
}
