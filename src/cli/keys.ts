/** `qrgate keys gen`: make a pass issuer key pair (docs/contract.md §3.2, §6). */
import { parseCommandLine } from "./command-line.js";
import type { PassAlgorithm } from "../core/issuer-keys.js";
import { generateIssuerKeyPair, isValidKid, KeyFileError, writeIssuerKeyFiles } from "../issuer/key-files.js";
import { CliError } from "./cli-error.js";
import { CENTRE_KID } from "../core/centre-jws.js";
import { readFile } from "node:fs/promises";
import { BrokerError, closeBroker, connectBroker } from "../centre/broker-client.js";
import { KeySetError, publishKeySet } from "../centre/fleet-commands.js";
import { DEFAULT_ROOT } from "../contract/topics.js";
import { readCentrePrivateKey } from "../issuer/centre-key.js";

const USAGE = `usage: qrgate keys gen [--alg EdDSA|ES256] [--kid KID] [--out DIR]
       qrgate keys publish JWKS --url URL --key KEYFILE [--root R]

Makes a pass issuer key pair: writes the private key to DIR/<kid>.private.jwk.json (mode 0600, never
overwritten) and adds the public key to DIR/issuer-keys.jwks.json (created if missing; the keys already in it
are kept). Copy the key set to the gates (passes.issuerKeys); keep the private key on the issuer only.

  --alg EdDSA|ES256   signature algorithm: Ed25519 (default) or ECDSA P-256
  --kid KID           key id, [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters
                      (default: the algorithm and part of the key's RFC 7638 thumbprint)
  --out DIR           output directory (default: the current directory)
  -h, --help          show this help

The centre key (it signs status tables, key sets and commands for the fleet) is made the same way:
'qrgate keys gen --kid centre --out DIR' (always Ed25519). Keep DIR apart from the pass issuer keys: give
the gates DIR/issuer-keys.jwks.json as centre.publicKey, and DIR/centre.private.jwk.json to --key below.

keys publish signs the pass issuer key set JWKS with the centre key and publishes it (retained) to every
gate, which replaces its issuer keys at once, without a restart: remove a key from the set to revoke it.
  --url URL           broker, e.g. mqtt://broker:1883
  --key KEYFILE       the centre's private key
  --root R            topic root (default qrgate/v1)`;

const OPTIONS = {
  alg: { type: "string" },
  kid: { type: "string" },
  out: { type: "string" },
  url: { type: "string" },
  key: { type: "string" },
  root: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(argv: string[]) {
  return parseCommandLine("keys", { args: argv, allowPositionals: true, options: OPTIONS });
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined) throw new CliError(`keys: missing subcommand\n\n${USAGE}`);
  if (sub === "publish") return publish(extra, values);
  if (sub !== "gen") throw new CliError(`keys: unknown subcommand '${sub}'\n\n${USAGE}`);
  if (extra.length > 0) throw new CliError(`keys gen: unexpected argument '${extra[0] ?? ""}'`);

  const alg = values.alg ?? "EdDSA";
  if (alg !== "EdDSA" && alg !== "ES256") throw new CliError(`keys gen: --alg must be EdDSA or ES256, got '${alg}'`);
  if (values.kid === CENTRE_KID && alg !== "EdDSA") throw new CliError("keys gen: the centre key is Ed25519 (--alg EdDSA)");
  if (values.kid !== undefined && !isValidKid(values.kid)) {
    throw new CliError(
      `keys gen: --kid must be 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit, got '${values.kid}'`,
    );
  }
  const dir = values.out ?? ".";

  try {
    const pair = generateIssuerKeyPair(alg satisfies PassAlgorithm, values.kid);
    const files = await writeIssuerKeyFiles(dir, pair);
    process.stdout.write(
      `kid: ${pair.kid}\nprivate key: ${files.privateKeyPath}\npublic key set: ${files.jwksPath}\n`,
    );
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(`keys gen: ${e.message}`, 1);
    throw e;
  }
  return 0;
}

async function publish(args: string[], values: { url?: string; key?: string; root?: string }): Promise<number> {
  const [file, ...extra] = args;
  if (file === undefined) throw new CliError("keys publish: needs the JWKS file to publish");
  if (extra.length > 0) throw new CliError(`keys publish: unexpected argument '${extra[0] ?? ""}'`);
  if (values.url === undefined) throw new CliError("keys publish: --url is required");
  if (values.key === undefined) throw new CliError("keys publish: --key KEYFILE is required (the centre's private key)");
  let jwks: unknown;
  try {
    jwks = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new CliError(`keys publish: cannot read ${file} as JSON (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 3);
  }
  let privateKey;
  try {
    privateKey = await readCentrePrivateKey(values.key);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(`keys publish: ${e.message}`, 1);
    throw e;
  }
  let client;
  try {
    client = await connectBroker(values.url, "keys");
  } catch (e) {
    if (e instanceof BrokerError) throw new CliError(`keys publish: ${e.message}`, 1);
    throw e;
  }
  try {
    const r = await publishKeySet(client, values.root ?? DEFAULT_ROOT, privateKey, jwks, Date.now());
    process.stdout.write(`published issuer key set version ${r.version} (${r.keys} keys)\n`);
    return 0;
  } catch (e) {
    if (e instanceof KeySetError) throw new CliError(`keys publish: ${file}: ${e.message}`, 3);
    if (e instanceof BrokerError) throw new CliError(`keys publish: ${e.message}`, 1);
    throw e;
  } finally {
    await closeBroker(client);
  }
}
