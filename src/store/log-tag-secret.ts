import { randomBytes } from "node:crypto";
import { SETTING, type Settings } from "./settings.js";

/** Bytes of the per-device secret that keys the `who` tag of log lines. */
export const LOG_TAG_SECRET_BYTES = 32;

/**
 * The device's secret for log tags: created at random on first start and kept in the store's settings, so a tag
 * correlates one person's scans on this device across restarts, but links nobody across devices and cannot be
 * reversed by hashing every possible ID (it is an HMAC under this secret, which never leaves the device).
 * A stored value that is not 32 bytes of hex (a damaged or hand-edited row) is replaced by a new secret.
 */
export function loadOrCreateLogTagSecret(settings: Settings, random: (n: number) => Buffer = randomBytes): Buffer {
  const stored = settings.get(SETTING.logTagSecret);
  if (stored !== undefined && new RegExp(`^[0-9a-f]{${LOG_TAG_SECRET_BYTES * 2}}$`).test(stored)) {
    return Buffer.from(stored, "hex");
  }
  const secret = random(LOG_TAG_SECRET_BYTES);
  settings.set(SETTING.logTagSecret, secret.toString("hex"));
  return secret;
}
