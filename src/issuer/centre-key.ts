/**
 * The centre key (docs/contract.md §5.7): an Ed25519 key pair made by `qrgate keys gen --kid centre`. Its private
 * half signs status snapshots and deltas, the issuer key set and commands; gates verify with its public half
 * (`centre.publicKey`). Files accepted: the key set written by `keys gen` (the key with kid `centre`, or its only
 * key), a single public JWK, or PEM (SPKI public / PKCS#8 private).
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { CENTRE_KID } from "../core/centre-jws.js";
import { encodeBase64Url } from "../core/jws.js";
import { err, ok, type Result } from "../core/result.js";
import { KeyFileError } from "./key-files.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function ed25519Only(key: KeyObject, what: string): Result<KeyObject, string> {
  return key.asymmetricKeyType === "ed25519" ? ok(key) : err(`${what}: expected an Ed25519 key, got ${key.asymmetricKeyType ?? "unknown"}`);
}

/** Parses the text of a centre public key file (JWKS, JWK or PEM). */
export function parseCentrePublicKey(text: string): Result<KeyObject, string> {
  const t = text.replace(/^\uFEFF/, "").trim();
  try {
    if (t.startsWith("-----BEGIN")) {
      if (t.includes("PRIVATE KEY")) return err("this is a private key: give the gate the public key only");
      return ed25519Only(createPublicKey(t), "PEM");
    }
    const json: unknown = JSON.parse(t);
    if (!isObject(json)) return err("expected a JWK Set, a JWK or a PEM public key");
    let jwk: unknown = json;
    if (Array.isArray(json.keys)) {
      const keys = json.keys as unknown[];
      const named = keys.filter((k) => isObject(k) && k.kid === CENTRE_KID);
      if (named.length === 1) jwk = named[0];
      else if (keys.length === 1) jwk = keys[0];
      else return err(`key set: expected one key with kid "${CENTRE_KID}" (or a set of exactly one key), found ${named.length} of ${keys.length}`);
    }
    if (!isObject(jwk)) return err("expected a JWK object");
    if (jwk.d !== undefined) return err('this is a private key (has "d"): give the gate the public key only');
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
      return err("expected an OKP Ed25519 public JWK");
    }
    return ed25519Only(createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" }), "JWK");
  } catch (e) {
    return err(`not a usable key: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads the gate's `centre.publicKey` file; throws KeyFileError with one line on any problem. */
export function loadCentrePublicKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new KeyFileError(`centre public key ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const key = parseCentrePublicKey(text);
  if (!key.ok) throw new KeyFileError(`centre public key ${path}: ${key.error}`);
  return key.value;
}

/** Reads the centre's private key (the `--key` of the publishing verbs): a private JWK or PKCS#8 PEM, Ed25519. */
export async function readCentrePrivateKey(path: string): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new KeyFileError(`key ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const t = text.replace(/^\uFEFF/, "").trim();
  let key: KeyObject;
  try {
    if (t.startsWith("-----BEGIN")) key = createPrivateKey(t);
    else {
      const jwk: unknown = JSON.parse(t);
      if (!isObject(jwk) || typeof jwk.d !== "string") throw new Error('not a private JWK (no "d")');
      key = createPrivateKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    }
  } catch (e) {
    throw new KeyFileError(`key ${path}: not a usable private key (${e instanceof Error ? e.message : String(e)})`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new KeyFileError(`key ${path}: the centre key must be Ed25519, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
  return key;
}

/** Signs a payload object as a compact JWS (EdDSA, kid `centre`). */
export function signCentreMessage(privateKey: KeyObject, payload: Readonly<Record<string, unknown>>): string {
  const header = encodeBase64Url(JSON.stringify({ alg: "EdDSA", kid: CENTRE_KID }));
  const input = `${header}.${encodeBase64Url(JSON.stringify(payload))}`;
  return `${input}.${encodeBase64Url(cryptoSign(null, Buffer.from(input, "latin1"), privateKey))}`;
}
