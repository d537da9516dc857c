import { createHmac } from "node:crypto";

/**
 * The keyed hash a site publishes instead of the citizen ID when it sets `pseudonymize` (contract):
 * lowercase hex HMAC-SHA256 of the 12-digit ID under the site's key (UTF-8). The centre hashes a clear ID
 * the same way to trace a pseudonymized subject.
 */
export function pseudonymize(id: string, key: string): string {
  return createHmac("sha256", key).update(id, "utf8").digest("hex");
}
