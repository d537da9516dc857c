/** `qrgate config check [--config FILE]`: the technician's `nginx -t` for a gate configuration. */
import { existsSync } from "node:fs";
import { ConfigError } from "../config/config-error.js";
import { fileProblems } from "../config/config-files.js";
import { checkConfigFiles, loadConfig } from "../config/load-config.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";

const USAGE = `usage: qrgate config check [--config FILE]

Checks a gate configuration without starting the gate: the schema (device-config/schema.json), the rules
between keys (e.g. relay.maxPulseMs >= relay.pulseMs), and the files it names (issuer keys, centre key,
provisioning keys, MQTT CA, certificate and key). Prints every problem as 'key.path: what is wrong', or 'ok'.
Exit status 0 when it is usable, 2 when it is not.

The configuration is --config FILE, else $QRGATE_CONFIG, else /etc/qrgate/config.json.`;

export function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine("config", {
    args: argv,
    allowPositionals: true,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return Promise.resolve(0);
  }
  const [sub, ...extra] = positionals;
  if (sub !== "check") throw new CliError(`config: ${sub === undefined ? "missing subcommand" : `unknown subcommand '${sub}'`}\n\n${USAGE}`);
  if (extra.length > 0) throw new CliError(`config check: unexpected argument '${extra[0] ?? ""}'`);

  let problems: readonly string[];
  let where: string;
  let warnings: string[] = [];
  try {
    // Files are checked here, all of them, rather than by loadConfig, which stops at the first kind of problem.
    const { config, source } = loadConfig(values.config, process.env, { checkFiles: false });
    where = source.kind === "embedded" ? "(embedded simulator default)" : source.path;
    problems =
      source.kind === "absent"
        ? [`cannot read the file: ENOENT (a gate started now waits for a provisioning code)`]
        : [...checkConfigFiles(config), ...fileProblems(config)];
    if (config.scanner.type === "serial" && config.scanner.path !== undefined && !existsSync(config.scanner.path)) {
      warnings = [`scanner.path: ${config.scanner.path} does not exist now (is the scanner plugged in?); the gate retries`];
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    where = e.source;
    problems = e.problems;
  }
  for (const w of warnings) process.stdout.write(`${where}: warning: ${w}\n`);
  if (problems.length === 0) {
    process.stdout.write(`${where}: ok\n`);
    return Promise.resolve(0);
  }
  for (const p of problems) process.stdout.write(`${where}: ${p}\n`);
  return Promise.resolve(2);
}
