/**
 * Compact JWS (RFC 7515 §7.1) split and decode. Pure; never throws on bad input.
 *
 * Base64url is decoded strictly (RFC 7515 §2, RFC 4648 §5): no padding, nothing outside `A-Z a-z 0-9 - _`, and the
 * unused low bits of the last character must be zero, so every byte string has exactly one encoding. Without that last
 * rule a signature could be altered in its final character and still decode to the same bytes.
 */
import { findDuplicateKey } from "./json-duplicate-keys.js";
import { err, ok, type Result } from "./result.js";

/** Which part of the token a failure is about. */
export type JwsPart = "token" | "header" | "payload" | "signature";

/** Why a token could not be split or decoded; `detail` names the part and what was expected. */
export interface JwsFailure {
  readonly part: JwsPart;
  readonly detail: string;
}

/** A compact JWS taken apart. Nothing in it is verified yet. */
export interface CompactJws {
  /** The JOSE header, a JSON object with no member name twice (its members are unchecked). */
  readonly header: Readonly<Record<string, unknown>>;
  /** The decoded payload bytes (not parsed: the payload is not to be trusted before the signature verifies). */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  /** `BASE64URL(header) || '.' || BASE64URL(payload)`, ASCII: the bytes the signature covers. */
  readonly signingInput: Uint8Array;
}

/** Value of each base64url character, -1 for any other code unit below 128. */
const B64URL: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
})();

/**
 * Checks that `s[start, end)` is canonical unpadded base64url; returns null when it is, else what is wrong.
 */
function base64UrlProblem(s: string, start: number, end: number): string | null {
  const len = end - start;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (B64URL[c] ?? -1) < 0) {
      const what = c === 0x3d ? "padding '='" : c < 0x20 || c >= 0x7f ? "a non-printing character" : `'${s[i]}'`;
      return `not base64url: ${what} at offset ${i - start}`;
    }
  }
  const rem = len % 4;
  if (rem === 1) return `not base64url: length ${len} is impossible (leaves 6 stray bits)`;
  if (rem !== 0) {
    const last = B64URL[s.charCodeAt(end - 1)] ?? 0;
    // 2 chars carry 1 byte (+4 spare bits), 3 chars carry 2 bytes (+2 spare bits).
    const spare = rem === 2 ? 0x0f : 0x03;
    if ((last & spare) !== 0) return "not base64url: non-zero spare bits in the last character (not canonical)";
  }
  return null;
}

/** Decodes canonical unpadded base64url, or returns null when `s` is not that. */
export function decodeBase64Url(s: string): Uint8Array | null {
  if (base64UrlProblem(s, 0, s.length) !== null) return null;
  return Buffer.from(s, "base64url");
}

/** Encodes bytes (or a string's UTF-8) as unpadded base64url. */
export function encodeBase64Url(data: Uint8Array | string): string {
  return (typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data)).toString("base64url");
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode (a BOM is kept, so JSON.parse rejects it), or null on a malformed sequence. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/** A member name from untrusted JSON, escaped and cut short for a detail. */
export function quoteName(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

const fail = (part: JwsPart, detail: string): { readonly ok: false; readonly error: JwsFailure } =>
  err({ part, detail });

/**
 * Splits a compact JWS into its three parts and decodes them: every part strict base64url, the header a JSON object
 * with no member name twice.
 * An empty payload or signature is allowed here (an unsecured `alg: none` token has an empty signature); the verifier
 * decides what it accepts.
 */
export function splitCompactJws(token: string): Result<CompactJws, JwsFailure> {
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 < 0 || dot2 < 0) {
    const parts = dot1 < 0 ? 1 : 2;
    return fail("token", `truncated: expected 3 parts separated by '.', got ${parts}`);
  }
  if (token.indexOf(".", dot2 + 1) >= 0) {
    return fail("token", "expected 3 parts separated by '.', got more (JWE and JSON serialization are not supported)");
  }
  if (dot1 === 0) return fail("header", "empty");

  const headerProblem = base64UrlProblem(token, 0, dot1);
  if (headerProblem !== null) return fail("header", headerProblem);
  const payloadProblem = base64UrlProblem(token, dot1 + 1, dot2);
  if (payloadProblem !== null) return fail("payload", payloadProblem);
  const signatureProblem = base64UrlProblem(token, dot2 + 1, token.length);
  if (signatureProblem !== null) return fail("signature", signatureProblem);

  const headerJson = decodeUtf8(Buffer.from(token.slice(0, dot1), "base64url"));
  if (headerJson === null) return fail("header", "not valid UTF-8");
  let header: unknown;
  try {
    header = JSON.parse(headerJson);
  } catch {
    return fail("header", "not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return fail("header", "expected a JSON object");
  }
  const duplicate = findDuplicateKey(headerJson);
  if (duplicate !== null) return fail("header", `member ${quoteName(duplicate)} appears twice`);
  return ok({
    header: header as Record<string, unknown>,
    payload: Buffer.from(token.slice(dot1 + 1, dot2), "base64url"),
    signature: Buffer.from(token.slice(dot2 + 1), "base64url"),
    signingInput: Buffer.from(token.slice(0, dot2), "latin1"),
  });
}
