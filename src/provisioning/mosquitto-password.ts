/**
 * A Mosquitto `password_file` line, the format `mosquitto_passwd` writes since Mosquitto 2.0:
 * `user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password, salt, iterations, 64)>`.
 */
import { pbkdf2Sync, randomBytes } from "node:crypto";

/** mosquitto_passwd's own iteration count and salt length (src/password_mosq.c: PW_DEFAULT_ITERATIONS, SALT_LEN). */
export const MOSQUITTO_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/** The password_file entry for `username`; the salt is random unless given (tests). */
export function mosquittoPasswordLine(username: string, password: string, iterations = MOSQUITTO_ITERATIONS, salt = randomBytes(SALT_BYTES)): string {
  if (username.length === 0 || username.includes(":") || /[\r\n]/.test(username)) {
    throw new Error("a Mosquitto username must be non-empty, without ':' or a line break");
  }
  const hash = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, HASH_BYTES, "sha512");
  return `${username}:$7$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/** A strong random broker password: 24 random bytes (192 bits), base64url, so it needs no quoting anywhere. */
export function randomBrokerPassword(): string {
  return randomBytes(24).toString("base64url");
}
