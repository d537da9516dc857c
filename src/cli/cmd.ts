/** `qrgate cmd`: send a signed command to one gate or every gate of a site and print their answers. */
import { BrokerError, closeBroker, connectBroker } from "../centre/broker-client.js";
import { sendCommand } from "../centre/fleet-commands.js";
import { DEFAULT_ROOT, isValidSegment } from "../contract/topics.js";
import { COMMAND_OPS, MAX_COMMAND_TTL_S, type CommandOp } from "../core/sync-messages.js";
import { readCentrePrivateKey } from "../issuer/centre-key.js";
import { KeyFileError } from "../issuer/key-files.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const HELP = `usage: qrgate cmd --url URL --key KEYFILE --site S (--device D | --all) OP [--ttl 60s] [--timeout 10s]

Signs a command with the centre key, sends it, and prints each gate's answer.
  OP: open      open the door once (journaled as an entry with reason manual)
      lockdown  refuse every code (reason lockdown) until 'normal'; survives a restart
      normal    end a lockdown
      sync      ask the broker again for the status table and the issuer keys
      reload    re-read the issuer key file (until the centre has sent a key set)

  --url URL        broker, e.g. mqtt://broker:1883
  --key KEYFILE    the centre's private key (centre.private.jwk.json, or PEM)
  --site S         the site
  --device D       one gate; or --all: every gate of the site (waits for those online or degraded)
  --ttl T          the command expires after T (s, m or h; default 60s, at most 24h)
  --timeout T      how long to wait for answers (default 10s)
  --root R         topic root (default ${DEFAULT_ROOT})

Exit status: 0 every gate did it, 1 a gate refused or failed, 4 a gate did not answer in time,
2 usage error.`;

/** `60`, `60s`, `5m`, `1h` -> seconds; NaN when not one of those. */
export function parseDurationS(text: string): number {
  const m = /^(\d{1,6})(s|m|h)?$/.exec(text);
  if (m === null) return NaN;
  return Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine("cmd", {
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      site: { type: "string" },
      device: { type: "string" },
      all: { type: "boolean", default: false },
      ttl: { type: "string", default: "60s" },
      timeout: { type: "string", default: "10s" },
      root: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const [op, ...extra] = positionals;
  if (op === undefined) throw new CliError(`cmd: missing OP (one of ${COMMAND_OPS.join(", ")})`);
  if (!(COMMAND_OPS as readonly string[]).includes(op)) throw new CliError(`cmd: unknown OP '${op}' (one of ${COMMAND_OPS.join(", ")})`);
  if (extra.length > 0) throw new CliError(`cmd: unexpected argument '${extra[0] ?? ""}'`);
  if (values.url === undefined) throw new CliError("cmd: --url is required");
  if (values.key === undefined) throw new CliError("cmd: --key KEYFILE is required (the centre's private key)");
  if (values.site === undefined || !isValidSegment(values.site)) throw new CliError("cmd: --site must be [a-z0-9-]{1,64} (and not 'all')");
  if ((values.device === undefined) === !values.all) throw new CliError("cmd: give exactly one of --device D and --all");
  if (values.device !== undefined && !isValidSegment(values.device)) throw new CliError("cmd: --device must be [a-z0-9-]{1,64} (and not 'all')");
  const ttlS = parseDurationS(values.ttl);
  if (!(ttlS >= 1 && ttlS <= MAX_COMMAND_TTL_S)) throw new CliError(`cmd: --ttl must be 1s to 24h, got '${values.ttl}'`);
  const timeoutS = parseDurationS(values.timeout);
  if (!(timeoutS >= 1 && timeoutS <= 3600)) throw new CliError(`cmd: --timeout must be 1s to 1h, got '${values.timeout}'`);

  let privateKey;
  try {
    privateKey = await readCentrePrivateKey(values.key);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(`cmd: ${e.message}`, 1);
    throw e;
  }
  let client;
  try {
    client = await connectBroker(values.url, "cmd");
  } catch (e) {
    if (e instanceof BrokerError) throw new CliError(`cmd: ${e.message}`, 1);
    throw e;
  }
  try {
    const out = await sendCommand(client, privateKey, {
      root: values.root ?? DEFAULT_ROOT,
      site: values.site,
      device: values.device ?? "all",
      op: op as CommandOp,
      ttlS,
      nowMs: Date.now(),
      timeoutMs: timeoutS * 1000,
    });
    process.stdout.write(`command ${out.id} (${op}) to ${values.site}/${values.device ?? "all"}\n`);
    if (out.expected.length === 0 && out.answers.size === 0) process.stdout.write("no device of the site is online\n");
    for (const [device, a] of [...out.answers].sort(([x], [y]) => x.localeCompare(y))) {
      process.stdout.write(`${device}: ${a.ok ? "ok" : `refused: ${a.error ?? "(no reason given)"}`}\n`);
    }
    for (const device of out.silent) process.stdout.write(`${device}: no answer within ${values.timeout}\n`);
    if (out.silent.length > 0) return 4;
    return [...out.answers.values()].every((a) => a.ok) ? 0 : 1;
  } catch (e) {
    if (e instanceof BrokerError) throw new CliError(`cmd: ${e.message}`, 1);
    throw e;
  } finally {
    await closeBroker(client);
  }
}
