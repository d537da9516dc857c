#!/usr/bin/env node
/**
 * `qrgate <verb> …`: each verb lives in its own file and is imported only when called, so a verb never loads
 * drivers (serial, HID, SQLite, MQTT) that it does not use.
 *
 * Exit statuses are decided here (with the mapping in ./exit-status.ts) and nowhere else: a verb returns its own
 * status for outcomes it reports (e.g. 3 "nothing imported"), and throws for failures, which map as follows:
 *   2  usage, configuration or an unusable path or device (CliError, ConfigError, StoreError, a file error with
 *      a path, any typed error whose `code` is `E_…`, e.g. a GPIO chip that cannot be opened at start): one
 *      line on stderr (a configuration with several problems lists each), no stack trace;
 *   70 anything unexpected (EX_SOFTWARE): one `qrgate: internal error: …` line; the stack with QRGATE_DEBUG=1.
 * A crash (uncaught exception, unhandled rejection) runs the fatal hooks (relay off) and exits 70.
 */
import { EXIT_SOFTWARE, EXIT_USAGE, failure } from "./exit-status.js";
import { runFatalHooks } from "./fatal.js";

type Verb = (argv: string[]) => Promise<number>;

const VERBS: Record<string, () => Promise<Verb>> = {
  run: async () => (await import("./run.js")).run,
  status: async () => (await import("./status.js")).run,
  collect: async () => (await import("./collect.js")).run,
  trace: async () => (await import("./trace.js")).run,
  keys: async () => (await import("./keys.js")).run,
  pass: async () => (await import("./pass.js")).run,
  fleet: async () => (await import("./fleet.js")).run,
  decode: async () => (await import("./decode.js")).run,
  doctor: async () => (await import("./doctor.js")).run,
  config: async () => (await import("./config-check.js")).run,
  provision: async () => (await import("./provision.js")).run,
  cmd: async () => (await import("./cmd.js")).run,
  "relay-off": async () => (await import("./relay-off.js")).run,
  sim: async () => (await import("./sim.js")).run,
};

const USAGE = `usage: qrgate <command> [options]

  run [--config FILE]                 run the gate (simulator by default)
  status import FILE [--strict] [--merge] [--config FILE]
                                      load the status table from a CSV
  status publish FILE --url URL --key KEYFILE --site S [--delta]
                                      centre: sign and publish a site's status table
  cmd --url URL --key KEYFILE --site S (--device D | --all) OP
                                      centre: signed command (open lockdown normal sync reload)
  collect --url URL [--db FILE|URL]   centre: store entries from the fleet
  trace --db FILE|URL …               centre: who passed where and when
  fleet --url URL [--site S] [--json] [--once]
                                      devices of the fleet: state, health, alarms
  keys gen [--alg EdDSA|ES256] [--kid KID] [--out DIR]
                                      make a pass issuer key pair (--kid centre: the centre key)
  keys publish JWKS --url URL --key KEYFILE
                                      centre: sign and publish the issuer key set to the fleet
  pass sign --key FILE --sub ID [--ttl S]
                                      sign a phone pass (prints the QR text)
  decode FILE… [--json] [--try-harder]  decode QR images through the camera pipeline
  doctor [--config FILE] [--json]     check this machine: devices, broker, store, clock
  config check [--config FILE]        check a configuration and the files it names
  provision --site S --device D --door NAME --url URL --out DIR [--qr FILE.png] …
                                      make a gate's config and broker login (or a QGP1 code)
  relay-off [--config FILE]           lock the door relay's line and exit (systemd ExecStopPost)
  sim --doors N [--rate R] [--duration S] [--url URL]
                                      a simulated fleet of real gates publishing to one broker

Run 'qrgate <command> --help' for a command's options.`;

function crash(kind: string) {
  return (e: unknown): void => {
    runFatalHooks(e);
    const f = failure(e);
    process.stderr.write(`qrgate: fatal ${kind}: ${f.status === EXIT_SOFTWARE ? f.text.replace(/^internal error: /, "") : f.text}\n`);
    process.exit(EXIT_SOFTWARE);
  };
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(USAGE + "\n");
    return verb === undefined ? EXIT_USAGE : 0;
  }
  const load = VERBS[verb];
  if (load === undefined) {
    process.stderr.write(`qrgate: unknown command '${verb}'\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  return (await load())(rest);
}

/** Ends the process with `status` once what is queued has gone out, even if a stray handle would keep it alive. */
function finish(status: number): void {
  process.exitCode = status;
  // Not unref'd work keeps running as long as it needs; this only stops a process that has nothing left to do
  // but a forgotten handle (a socket, a timer) from lingering without saying so.
  setTimeout(() => process.exit(status), 500).unref();
}

process.on("uncaughtException", crash("uncaught exception"));
process.on("unhandledRejection", crash("unhandled rejection"));

main(process.argv.slice(2)).then(finish, (e: unknown) => {
  const f = failure(e);
  process.stderr.write(`qrgate: ${f.text}\n`);
  finish(f.status);
});
