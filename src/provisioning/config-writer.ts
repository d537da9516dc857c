/**
 * Applies a verified provisioning grant to a gate's config file: the site, device, door and broker login replace the
 * old ones, everything else (scanner, relay, store, policy) is kept, `provisioning` is dropped. The result is
 * validated before anything is written, and written through a temporary file and a rename, so a refusal or a power
 * cut leaves the old file (or none) in place.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateConfig } from "../config/load-config.js";
import type { ProvisioningGrant } from "./provisioning-code.js";

/**
 * The config document the grant makes from `current` (the parsed file, or undefined on first boot). `stateDir` is
 * systemd's `$STATE_DIRECTORY` (/var/lib/qrgate under the unit): where the store goes when nothing says otherwise,
 * rather than beside the config in /etc.
 */
export function provisionedDocument(
  current: Record<string, unknown> | undefined,
  grant: ProvisioningGrant,
  stateDir: string | undefined = process.env.STATE_DIRECTORY,
): Record<string, unknown> {
  const { provisioning: _dropped, ...rest } = current ?? {};
  const store = typeof rest.store === "object" && rest.store !== null ? (rest.store as Record<string, unknown>) : {};
  if (store.path === undefined && stateDir !== undefined && stateDir !== "") {
    // $STATE_DIRECTORY may list several folders separated by ':'; the unit names one.
    rest.store = { ...store, path: join(stateDir.split(":")[0] ?? stateDir, "qrgate.db") };
  }
  const oldMqtt = typeof rest.mqtt === "object" && rest.mqtt !== null ? (rest.mqtt as Record<string, unknown>) : {};
  // A new login replaces the old one whole: no stale password or client certificate next to the new username.
  const { username: _u, password: _p, cert: _c, key: _k, ...mqttRest } = oldMqtt;
  return {
    ...rest,
    site: grant.site,
    device: grant.device,
    door: grant.door,
    mqtt: { ...mqttRest, ...grant.mqtt },
  };
}

/** Reads the current config document, or undefined when there is none yet. Throws on an unreadable or non-object file. */
export function readConfigDocument(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error(`${path} is not a JSON object`);
  return doc as Record<string, unknown>;
}

/** Validates and writes the provisioned config (mode 0600); throws ConfigError and writes nothing when it is invalid. */
export function writeProvisionedConfig(path: string, grant: ProvisioningGrant): Record<string, unknown> {
  const doc = provisionedDocument(readConfigDocument(path), grant);
  validateConfig(structuredClone(doc), `${path} (as provisioned)`);
  const tmp = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return doc;
}
