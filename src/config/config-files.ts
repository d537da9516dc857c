/**
 * Checks what the files a configuration names hold (`qrgate config check`). Every problem starts with the key's
 * dotted path. Paths must already be absolute (loadConfig resolves them).
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import type { Config } from "./config.js";
import { parseJwks } from "../core/jwks.js";

function read(key: string, path: string, problems: string[]): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    problems.push(`${key}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return null;
  }
}

function checkJwks(key: string, path: string, problems: string[], emptyIsProblem = false): void {
  const text = read(key, path, problems);
  if (text === null) return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${key}: ${path} is not JSON`);
    return;
  }
  const parsed = parseJwks(json);
  if (!parsed.ok) for (const p of parsed.error) problems.push(`${key}: ${path}: ${p}`);
  else if (emptyIsProblem && parsed.value.size === 0) problems.push(`${key}: ${path} holds no key: no code could ever be accepted`);
}

/** A public key as PEM, a JWK, or a JWK Set (the centre publishes one of these). */
function checkPublicKey(key: string, path: string, problems: string[]): void {
  const text = read(key, path, problems);
  if (text === null) return;
  try {
    if (text.trimStart().startsWith("-----BEGIN")) {
      createPublicKey(text);
      return;
    }
    const json = JSON.parse(text) as { keys?: unknown } & JsonWebKey;
    if (Array.isArray(json.keys)) {
      const parsed = parseJwks(json);
      if (!parsed.ok) for (const p of parsed.error) problems.push(`${key}: ${path}: ${p}`);
      return;
    }
    if (json.d !== undefined) {
      problems.push(`${key}: ${path} is a private key; the gate needs only the public one`);
      return;
    }
    createPublicKey({ key: json, format: "jwk" });
  } catch (e) {
    problems.push(`${key}: ${path} is not a PEM or JWK public key (${(e as Error).message})`);
  }
}

/**
 * Problems with what the named files hold, beyond what loadConfig's checkConfigFiles already says (readable; CA,
 * certificate and key PEM and matching): the issuer key set, the centre key, the provisioning key set, the store.
 */
export function fileProblems(c: Config): string[] {
  const problems: string[] = [];
  // An unreadable issuer key set is already reported by checkConfigFiles; here, what it holds.
  if (c.passes.issuerKeys !== undefined && readable(c.passes.issuerKeys)) checkJwks("passes.issuerKeys", c.passes.issuerKeys, problems);
  if (c.centre.publicKey !== undefined) checkPublicKey("centre.publicKey", c.centre.publicKey, problems);
  if (c.provisioning) checkJwks("provisioningKeys", c.provisioningKeys, problems, true);
  try {
    if (statSync(c.store.path).isDirectory()) problems.push(`store.path: ${c.store.path} is a folder, not a file`);
  } catch {
    // Not there yet: the gate creates it (with its folder) on first start.
  }
  return problems;
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
