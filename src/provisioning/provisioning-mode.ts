/**
 * `qrgate run` on a gate that has no configuration yet (or `provisioning: true`): waits for a signed provisioning
 * code on the configured scanner, writes the config, and returns so the caller starts the gate on it (its uplink
 * then announces `online` on the new device's `state` topic: the confirmation the technician watches for).
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";
import type { IssuerKeySet } from "../core/issuer-keys.js";
import { parseJwks } from "../core/jwks.js";
import { systemClock } from "../drivers/clock.js";
import { buildScanner } from "../drivers/driver-factory.js";
import type { ServiceNotifier } from "../services/sd-notify.js";
import { writeProvisionedConfig } from "./config-writer.js";
import { ProvisioningService } from "./provisioning-service.js";

/** Clock skew allowed on a code's expiry. */
const SKEW_S = 300;

/** Loads the fleet's provisioning public keys; without them no code can be trusted, so the gate cannot start. */
export function loadProvisioningKeys(path: string): IssuerKeySet {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`provisioningKeys ${path}`, [
      `cannot read the provisioning key set (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): a gate in provisioning mode needs it to verify codes`,
    ]);
  }
  const keys = parseJwks(json);
  if (!keys.ok) throw new ConfigError(`provisioningKeys ${path}`, keys.error);
  if (keys.value.size === 0) throw new ConfigError(`provisioningKeys ${path}`, ["the key set is empty: no code could ever be accepted"]);
  return keys.value;
}

/** Runs provisioning mode until a code is applied (true) or the scanner closes or a signal arrives (false). */
export async function runProvisioningMode(config: Config, configPath: string, log: Logger, notifier: ServiceNotifier): Promise<boolean> {
  const plog = log.child({ module: "provisioning" });
  const keys = loadProvisioningKeys(config.provisioningKeys);
  const scanner = buildScanner(config, systemClock, log);
  const service = new ProvisioningService(
    scanner,
    keys,
    SKEW_S,
    systemClock,
    (grant) => {
      writeProvisionedConfig(configPath, grant);
    },
    {
      refused: (r) => process.stdout.write(`REFUSED ${r.reason} — ${r.detail}\n`),
      applied: (g) => process.stdout.write(`PROVISIONED ${g.site}/${g.device} door ${g.door}, broker ${g.mqtt.url}: ${configPath} written\n`),
    },
    plog,
  );
  const onSignal = (): void => {
    void service.stop();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    await service.start();
    // Waiting for a code is this program doing its job: tell systemd, or Type=notify would time the start out.
    notifier.ready("provisioning mode: waiting for a provisioning code");
    notifier.startWatchdog();
    process.stdout.write(`provisioning mode: scan the provisioning code (QGP1:…) with ${scanner.name}\n`);
    const grant = await service.result;
    if (grant === null) {
      notifier.stopping();
      notifier.close();
    }
    return grant !== null;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await scanner.stop();
  }
}
