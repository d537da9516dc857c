/**
 * Pass issuer keys on disk: generate an Ed25519 or P-256 key pair, write the private key as a JWK file (mode 0600,
 * never overwritten) and add the public key to a JWK Set file (RFC 7517) that the gates load as
 * `passes.issuerKeys`; read both back.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { IssuerKey, PassAlgorithm } from "../core/issuer-keys.js";
import { MAX_KID_LENGTH, parseJwks } from "../core/jwks.js";
import { assertKeyFitsAlg } from "./pass-signer.js";

/** A problem with a key file the user can fix (missing, malformed, already there); its message is one line. */
export class KeyFileError extends Error {
  readonly code = "E_KEY_FILE";
  constructor(message: string) {
    super(message);
    this.name = "KeyFileError";
  }
}

/** The public key set's file name inside the output directory. */
export const JWKS_FILE_NAME = "issuer-keys.jwks.json";

/** The private key's file name for a kid. */
export const privateKeyFileName = (kid: string): string => `${kid}.private.jwk.json`;

/** Kids this tool makes or accepts: safe as a file name and in a header; starts with a letter or digit. */
const KID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_KID_LENGTH - 1}}$`);
export const isValidKid = (kid: string): boolean => KID_PATTERN.test(kid);

export interface IssuerKeyPair {
  readonly kid: string;
  readonly alg: PassAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: "jwk" });
  // Required members only, in lexicographic order, no whitespace (RFC 7638 §3).
  const canonical =
    jwk.kty === "EC"
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** The kid given to a new key when none is chosen: the algorithm and 12 characters of the key's thumbprint. */
export function defaultKid(alg: PassAlgorithm, publicKey: KeyObject): string {
  return `${alg.toLowerCase()}-${jwkThumbprint(publicKey).slice(0, 12)}`;
}

/** Generates an issuer key pair: Ed25519 for EdDSA, P-256 for ES256. */
export function generateIssuerKeyPair(alg: PassAlgorithm, kid?: string): IssuerKeyPair {
  const { privateKey, publicKey } =
    alg === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const chosen = kid ?? defaultKid(alg, publicKey);
  if (!isValidKid(chosen)) throw new KeyFileError(`kid must match ${KID_PATTERN.source}, got ${JSON.stringify(chosen)}`);
  return { kid: chosen, alg, privateKey, publicKey };
}

/** The public JWK published in the key set: key members plus kid, alg and use. */
export function publicJwkOf(pair: Pick<IssuerKeyPair, "kid" | "alg" | "publicKey">): JsonWebKey {
  return { ...pair.publicKey.export({ format: "jwk" }), kid: pair.kid, alg: pair.alg, use: "sig" };
}

/** The private JWK kept on the issuer: key members (with `d`) plus kid, alg and use. */
export function privateJwkOf(pair: Pick<IssuerKeyPair, "kid" | "alg" | "privateKey">): JsonWebKey {
  return { ...pair.privateKey.export({ format: "jwk" }), kid: pair.kid, alg: pair.alg, use: "sig" };
}

const toJson = (v: unknown): string => JSON.stringify(v, null, 2) + "\n";

const isMissing = (e: unknown): boolean => e instanceof Error && (e as NodeJS.ErrnoException).code === "ENOENT";

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (isMissing(e)) throw new KeyFileError(`${what} ${path} does not exist`);
    throw e;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KeyFileError(`${what} ${path} is not JSON`);
  }
}

/** Writes a file via a temporary file and a rename, so readers see the old content or the new, never half. */
async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes the private key as a JWK file with mode 0600; refuses to overwrite an existing file. */
export async function writePrivateKeyFile(path: string, pair: IssuerKeyPair): Promise<void> {
  try {
    await writeFile(path, toJson(privateJwkOf(pair)), { mode: 0o600, flag: "wx" });
  } catch (e) {
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new KeyFileError(`${path} already exists; a private key is never overwritten`);
    }
    throw e;
  }
}

/**
 * Reads a JWKS file as a raw JSON document after checking it parses as a key set; a missing file is an empty set.
 * The raw document is kept so that adding a key preserves what else the file holds.
 */
async function readJwksDocument(path: string): Promise<{ doc: { keys: unknown[] }; keys: Map<string, IssuerKey> }> {
  let json: unknown;
  try {
    json = await readJson(path, "key set");
  } catch (e) {
    if (e instanceof KeyFileError && e.message.endsWith("does not exist")) {
      return { doc: { keys: [] }, keys: new Map() };
    }
    throw e;
  }
  const parsed = parseJwks(json);
  if (!parsed.ok) throw new KeyFileError(`key set ${path} is invalid: ${parsed.error.join("; ")}`);
  return { doc: json as { keys: unknown[] }, keys: parsed.value };
}

/** Adds the pair's public key to the JWKS file at `path` (creating it); refuses a kid already in the set. */
export async function addToJwksFile(path: string, pair: IssuerKeyPair): Promise<void> {
  const { doc, keys } = await readJwksDocument(path);
  if (keys.has(pair.kid)) throw new KeyFileError(`key set ${path} already has a key with kid ${JSON.stringify(pair.kid)}`);
  doc.keys.push(publicJwkOf(pair));
  await writeAtomically(path, toJson(doc), 0o644);
}

/** Where `writeIssuerKeyFiles` put the two files. */
export interface IssuerKeyFiles {
  readonly privateKeyPath: string;
  readonly jwksPath: string;
}

/**
 * Writes `DIR/<kid>.private.jwk.json` (0600) and adds the public key to `DIR/issuer-keys.jwks.json`. Everything that
 * can be checked is checked before anything is written: an invalid existing key set, a kid already in it, an existing
 * private key file.
 */
export async function writeIssuerKeyFiles(dir: string, pair: IssuerKeyPair): Promise<IssuerKeyFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, privateKeyFileName(pair.kid));
  const jwksPath = join(dir, JWKS_FILE_NAME);
  const { keys } = await readJwksDocument(jwksPath);
  if (keys.has(pair.kid)) {
    throw new KeyFileError(`key set ${jwksPath} already has a key with kid ${JSON.stringify(pair.kid)}`);
  }
  await writePrivateKeyFile(privateKeyPath, pair);
  await addToJwksFile(jwksPath, pair);
  return { privateKeyPath, jwksPath };
}

/** A private key read back from its JWK file. */
export interface IssuerPrivateKey {
  readonly kid: string;
  readonly alg: PassAlgorithm;
  readonly privateKey: KeyObject;
  /** True when the file can be read by group or others (it should be 0600). */
  readonly exposed: boolean;
}

/** Reads a private key JWK file written by `writePrivateKeyFile` (or any Ed25519/P-256 private JWK with a kid). */
export async function readPrivateKeyFile(path: string): Promise<IssuerPrivateKey> {
  const json = await readJson(path, "private key file");
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new KeyFileError(`private key file ${path}: expected a JSON object (a JWK)`);
  }
  const jwk = json as JsonWebKey;
  if (typeof jwk.d !== "string") throw new KeyFileError(`private key file ${path}: not a private key (no "d")`);
  const alg: PassAlgorithm | null =
    jwk.kty === "OKP" && jwk.crv === "Ed25519" ? "EdDSA" : jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : null;
  if (alg === null) {
    throw new KeyFileError(`private key file ${path}: expected an OKP Ed25519 or EC P-256 key`);
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw new KeyFileError(`private key file ${path}: alg ${JSON.stringify(jwk.alg)} does not agree with the ${alg} key`);
  }
  const kid: unknown = jwk.kid;
  if (typeof kid !== "string" || !isValidKid(kid)) {
    throw new KeyFileError(`private key file ${path}: kid missing or not of the form ${KID_PATTERN.source}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk, format: "jwk" });
    assertKeyFitsAlg(privateKey, alg);
  } catch (e) {
    throw new KeyFileError(`private key file ${path}: not a valid key (${e instanceof Error ? e.message : String(e)})`);
  }
  const { mode } = await stat(path);
  return { kid, alg, privateKey, exposed: (mode & 0o077) !== 0 };
}

/** Reads and checks a JWKS file of pass issuer public keys (what a gate loads as `passes.issuerKeys`). */
export async function readJwksFile(path: string): Promise<Map<string, IssuerKey>> {
  const parsed = parseJwks(await readJson(path, "key set"));
  if (!parsed.ok) throw new KeyFileError(`key set ${path} is invalid: ${parsed.error.join("; ")}`);
  return parsed.value;
}
