import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** One user name and password for a page bound beyond this machine. */
export interface Login {
  readonly user: string;
  readonly password: string;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Checks an HTTP Basic `Authorization` header (RFC 7617). Both the user and the password are compared in
 * constant time over fixed-length digests, so neither the length nor a prefix of either leaks through timing.
 */
export function basicAuthOk(req: IncomingMessage, login: Login): boolean {
  const h = req.headers.authorization;
  if (typeof h !== "string" || !/^Basic [A-Za-z0-9+/=]{1,1024}$/.test(h)) return false;
  const text = Buffer.from(h.slice(6), "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 0) return false;
  const userOk = timingSafeEqual(digest(text.slice(0, colon)), digest(login.user));
  const passOk = timingSafeEqual(digest(text.slice(colon + 1)), digest(login.password));
  return userOk && passOk;
}

/** True for an address only this machine can reach (no login needed there). */
export function isLoopback(bind: string): boolean {
  return bind === "localhost" || bind === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bind);
}
