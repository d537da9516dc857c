#!/usr/bin/env node
/**
 * `qrgate <verb> …`: each verb lives in its own file and is imported only when called, so a verb never loads
 * drivers (serial, HID, SQLite, MQTT) that it does not use.
 */
import { CliError } from "./cli-error.js";

type Verb = (argv: string[]) => Promise<number>;

const VERBS: Record<string, () => Promise<Verb>> = {
  run: async () => (await import("./run.js")).run,
  status: async () => (await import("./status.js")).run,
  collect: async () => (await import("./collect.js")).run,
  trace: async () => (await import("./trace.js")).run,
  keys: async () => (await import("./keys.js")).run,
  pass: async () => (await import("./pass.js")).run,
};

const USAGE = `usage: qrgate <command> [options]

  run [--config FILE]                 run the gate (simulator by default)
  status import FILE [--strict] [--merge] [--config FILE]
                                      load the status table from a CSV
  collect --url URL [--db FILE|URL]   centre: store entries from the fleet
  trace --db FILE|URL …               centre: who passed where and when
  keys gen [--alg EdDSA|ES256] [--kid KID] [--out DIR]
                                      make a pass issuer key pair
  pass sign --key FILE --sub ID [--ttl S]
                                      sign a phone pass (prints the QR text)

Run 'qrgate <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(USAGE + "\n");
    return verb === undefined ? 2 : 0;
  }
  const load = VERBS[verb];
  if (load === undefined) {
    process.stderr.write(`qrgate: unknown command '${verb}'\n\n${USAGE}\n`);
    return 2;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`qrgate: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`qrgate: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
