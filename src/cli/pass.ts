/** `qrgate pass sign`: sign a phone pass and print its QR text (docs/contract.md §3.2, §6). */
import { parseCommandLine } from "./command-line.js";
import { isDigits } from "../core/code-text.js";
import { MAX_JTI_LENGTH, MAX_NAME_LENGTH, MAX_PASS_LIFETIME_S } from "../core/pass.js";
import { KeyFileError, readPrivateKeyFile } from "../issuer/key-files.js";
import { signPass } from "../issuer/pass-signer.js";
import { CliError } from "./cli-error.js";

const USAGE = `usage: qrgate pass sign --key PRIVATE_JWK_FILE --sub ID [--ttl 300] [--name NAME] [--jti J] [--iat UNIX]

Signs a phone pass with an issuer private key (from 'qrgate keys gen') and prints its QR text, QG1:…, on stdout.

  --key FILE     the issuer's private key, a JWK file (its kid and algorithm come from it)
  --sub ID       the holder's 12-digit citizen ID
  --ttl S        lifetime in seconds, 1 to ${MAX_PASS_LIFETIME_S} (default 300)
  --name NAME    the holder's name, shown by the gate (optional)
  --jti J        the pass's unique id (default: a random UUID)
  --iat UNIX     issue time, Unix seconds (default: now)
  -h, --help     show this help`;

const OPTIONS = {
  key: { type: "string" },
  sub: { type: "string" },
  ttl: { type: "string" },
  name: { type: "string" },
  jti: { type: "string" },
  iat: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(argv: string[]) {
  return parseCommandLine("pass", { args: argv, allowPositionals: true, options: OPTIONS });
}

/** A decimal integer argument, or a CliError naming the option. */
function integer(option: string, text: string): number {
  if (!/^-?\d{1,15}$/.test(text)) throw new CliError(`pass sign: ${option} must be an integer, got '${text}'`);
  return Number(text);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined) throw new CliError(`pass: missing subcommand\n\n${USAGE}`);
  if (sub !== "sign") throw new CliError(`pass: unknown subcommand '${sub}'\n\n${USAGE}`);
  if (extra.length > 0) throw new CliError(`pass sign: unexpected argument '${extra[0] ?? ""}'`);

  if (values.key === undefined) throw new CliError("pass sign: --key PRIVATE_JWK_FILE is required");
  if (values.sub === undefined) throw new CliError("pass sign: --sub ID is required");
  if (values.sub.length !== 12 || !isDigits(values.sub)) throw new CliError("pass sign: --sub must be 12 digits");
  const ttlS = values.ttl === undefined ? 300 : integer("--ttl", values.ttl);
  if (ttlS < 1 || ttlS > MAX_PASS_LIFETIME_S) {
    throw new CliError(`pass sign: --ttl must be 1 to ${MAX_PASS_LIFETIME_S} seconds, got ${ttlS}`);
  }
  const nowS = values.iat === undefined ? Math.floor(Date.now() / 1000) : integer("--iat", values.iat);
  if (values.jti !== undefined && (values.jti.length === 0 || values.jti.length > MAX_JTI_LENGTH)) {
    throw new CliError(`pass sign: --jti must be 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (values.name !== undefined && values.name.length > MAX_NAME_LENGTH) {
    throw new CliError(`pass sign: --name must be at most ${MAX_NAME_LENGTH} characters`);
  }

  let key;
  try {
    key = await readPrivateKeyFile(values.key);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(`pass sign: ${e.message}`, 1);
    throw e;
  }
  if (key.exposed) {
    process.stderr.write(`qrgate: warning: ${values.key} is readable by others; chmod 600 it\n`);
  }
  const text = signPass({
    privateKey: key.privateKey,
    kid: key.kid,
    alg: key.alg,
    sub: values.sub,
    ttlS,
    nowS,
    ...(values.jti === undefined ? {} : { jti: values.jti }),
    ...(values.name === undefined ? {} : { name: values.name }),
  });
  process.stdout.write(text + "\n");
  return 0;
}
