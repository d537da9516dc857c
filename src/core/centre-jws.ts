/**
 * Messages signed by the centre key (docs/contract.md §5.7): a compact JWS (RFC 7515) with `alg` `EdDSA` (Ed25519,
 * RFC 8037) whose payload is a JSON object with a `type` member. Status manifests and deltas, the issuer key set and
 * commands all travel this way. Pure computation; never throws on bad input.
 *
 * The algorithm is never taken from the token: the centre key is Ed25519 and the header must say `EdDSA`.
 */
import { verify as cryptoVerify, type KeyObject } from "node:crypto";
import { decodeUtf8, splitCompactJws } from "./jws.js";
import { err, ok, type Result } from "./result.js";

/** The kid the centre key carries (`qrgate keys gen --kid centre`). */
export const CENTRE_KID = "centre";

/** Ed25519 signatures are 64 bytes. */
const SIGNATURE_BYTES = 64;

/** Why a signed message was refused: `signature` when it is not proven to come from the centre, else `format`. */
export interface CentreJwsFailure {
  readonly kind: "format" | "signature";
  readonly detail: string;
}

/**
 * Verifies a compact JWS against the centre's Ed25519 public key and returns its payload object, after checking
 * that its `type` is `expectedType`. Nothing in the payload is read before the signature verifies.
 */
export function verifyCentreJws(
  token: string,
  centreKey: KeyObject,
  expectedType: string,
): Result<Readonly<Record<string, unknown>>, CentreJwsFailure> {
  const parts = splitCompactJws(token.trim());
  if (!parts.ok) return err({ kind: "format", detail: `${parts.error.part}: ${parts.error.detail}` });
  const { header, payload, signature, signingInput } = parts.value;
  if (header.alg !== "EdDSA") {
    return err({ kind: "signature", detail: `alg must be EdDSA, got ${JSON.stringify(header.alg)?.slice(0, 20)}` });
  }
  if (header.crit !== undefined) return err({ kind: "format", detail: "crit header not supported" });
  if (signature.length !== SIGNATURE_BYTES) {
    return err({ kind: "signature", detail: `signature must be ${SIGNATURE_BYTES} bytes, got ${signature.length}` });
  }
  let good = false;
  try {
    good = cryptoVerify(null, signingInput, centreKey, signature);
  } catch {
    good = false;
  }
  if (!good) return err({ kind: "signature", detail: "signature does not verify with the centre key" });
  const text = decodeUtf8(payload);
  if (text === null) return err({ kind: "format", detail: "payload is not UTF-8" });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return err({ kind: "format", detail: "payload is not JSON" });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return err({ kind: "format", detail: "payload is not a JSON object" });
  }
  const o = json as Record<string, unknown>;
  if (o.type !== expectedType) {
    return err({ kind: "format", detail: `type must be ${expectedType}, got ${JSON.stringify(o.type)?.slice(0, 30)}` });
  }
  return ok(o);
}
