/** `qrgate status publish`: sign and publish a site's status table to the fleet (docs/contract.md §5.7). */
import { DEFAULT_ROOT, isValidSegment } from "../contract/topics.js";
import { BrokerError, closeBroker, connectBroker } from "../centre/broker-client.js";
import { publishDelta, publishSnapshot, readStatusFile, StatusFileError } from "../centre/status-publisher.js";
import { readCentrePrivateKey } from "../issuer/centre-key.js";
import { KeyFileError } from "../issuer/key-files.js";
import { MAX_CHUNK_ROWS, MAX_DELTA_ROWS } from "../core/sync-messages.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const HELP = `usage: qrgate status publish FILE --url URL --key KEYFILE --site S [--delta] [--chunk-rows N] [--root R]

Signs the status CSV FILE with the centre key and publishes it to the gates of site S.
Every row is checked first: a bad row, or an ID given twice with different contents,
publishes nothing. Without --delta the file is the site's whole table: a snapshot
(retained chunks and a signed manifest; the previous snapshot and its deltas are
cleared). With --delta its rows are changes on top of the current snapshot: the next
numbered delta, retained until the next snapshot (at most ${MAX_DELTA_ROWS} rows).
Gates that are offline get it when they reconnect.

  --url URL         broker, e.g. mqtt://broker:1883
  --key KEYFILE     the centre's private key (centre.private.jwk.json from
                    'qrgate keys gen --kid centre', or an Ed25519 PKCS#8 PEM)
  --site S          the site, [a-z0-9-]{1,64}
  --delta           publish a delta instead of a snapshot
  --chunk-rows N    rows per snapshot chunk, 1 to ${MAX_CHUNK_ROWS} (default 5000)
  --root R          topic root (default ${DEFAULT_ROOT})

Exit status: 0 published, 3 nothing published (bad file, no snapshot for a delta),
1 broker or key problem, 2 usage error.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine("status publish", {
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      site: { type: "string" },
      delta: { type: "boolean", default: false },
      "chunk-rows": { type: "string" },
      root: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined) throw new CliError("status publish: needs the CSV file to publish");
  if (extra.length > 0) throw new CliError(`status publish: unexpected argument '${extra[0] ?? ""}'`);
  if (values.url === undefined) throw new CliError("status publish: --url is required (e.g. --url mqtt://localhost:1883)");
  if (values.key === undefined) throw new CliError("status publish: --key KEYFILE is required (the centre's private key)");
  if (values.site === undefined || !isValidSegment(values.site)) {
    throw new CliError("status publish: --site must be [a-z0-9-]{1,64} (and not 'all')");
  }
  const chunkText = values["chunk-rows"] ?? "5000";
  const chunkRows = /^\d{1,6}$/.test(chunkText) ? Number(chunkText) : NaN;
  if (!(chunkRows >= 1 && chunkRows <= MAX_CHUNK_ROWS)) throw new CliError(`status publish: --chunk-rows must be 1 to ${MAX_CHUNK_ROWS}`);
  const root = values.root ?? DEFAULT_ROOT;

  let privateKey;
  try {
    privateKey = await readCentrePrivateKey(values.key);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(`status publish: ${e.message}`, 1);
    throw e;
  }
  let lines: string[];
  try {
    lines = await readStatusFile(file);
  } catch (e) {
    if (e instanceof StatusFileError) {
      for (const p of e.problems) process.stderr.write(p + "\n");
      throw new CliError(`status publish: ${file}: ${e.message}`, 3);
    }
    throw new CliError(`status publish: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 3);
  }
  const started = performance.now();
  let client;
  try {
    client = await connectBroker(values.url, "publish");
  } catch (e) {
    if (e instanceof BrokerError) throw new CliError(`status publish: ${e.message}`, 1);
    throw e;
  }
  try {
    const target = { client, root, site: values.site, privateKey, nowMs: Date.now() };
    const ms = (): string => `${Math.round(performance.now() - started)} ms`;
    if (values.delta) {
      const r = await publishDelta(target, lines);
      process.stdout.write(`published delta ${r.seq} on snapshot ${r.base} for site ${values.site}: ${r.rows} rows, version ${r.version} (${ms()})\n`);
    } else {
      const r = await publishSnapshot(target, lines, chunkRows);
      process.stdout.write(
        `published snapshot ${r.version} for site ${values.site}: ${r.rows} rows in ${r.chunks} chunks, sha256 ${r.sha256}` +
          `${r.previous === null ? "" : `; cleared snapshot ${r.previous} and ${r.clearedDeltas} deltas`} (${ms()})\n`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof RangeError) throw new CliError(`status publish: ${e.message}`, 3);
    if (e instanceof BrokerError) throw new CliError(`status publish: ${e.message}`, 1);
    throw e;
  } finally {
    await closeBroker(client);
  }
}
