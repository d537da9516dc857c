/** `qrgate keys gen`: make a pass issuer key pair (DESIGN §3.2, §6). */
import { parseCommandLine } from "./command-line.js";
import type { PassAlgorithm } from "../core/issuer-keys.js";
import { generateIssuerKeyPair, isValidKid, KeyFileError, writeIssuerKeyFiles } from "../issuer/key-files.js";
import { CliError } from "./cli-error.js";

const USAGE = `usage: qrgate keys gen [--alg EdDSA|ES256] [--kid KID] [--out DIR]

Makes a pass issuer key pair: writes the private key to DIR/<kid>.private.jwk.json (mode 0600, never
overwritten) and adds the public key to DIR/issuer-keys.jwks.json (created if missing; the keys already in it
are kept). Copy the key set to the gates (passes.issuerKeys); keep the private key on the issuer only.

  --alg EdDSA|ES256   signature algorithm: Ed25519 (default) or ECDSA P-256
  --kid KID           key id, [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters
                      (default: the algorithm and part of the key's RFC 7638 thumbprint)
  --out DIR           output directory (default: the current directory)
  -h, --help          show this help`;

const OPTIONS = {
  alg: { type: "string" },
  kid: { type: "string" },
  out: { type: "string" },
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
  if (sub !== "gen") throw new CliError(`keys: unknown subcommand '${sub}'\n\n${USAGE}`);
  if (extra.length > 0) throw new CliError(`keys gen: unexpected argument '${extra[0] ?? ""}'`);

  const alg = values.alg ?? "EdDSA";
  if (alg !== "EdDSA" && alg !== "ES256") throw new CliError(`keys gen: --alg must be EdDSA or ES256, got '${alg}'`);
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
