import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isKnownTimeZone } from "../core/local-date.js";
import AjvModule, { type ErrorObject } from "ajv";
import type { Config, LoadedConfig } from "./config.js";
import { ConfigError } from "./config-error.js";
import { crossKeyProblems } from "./config-checks.js";
import { trimPseudonymKey } from "../contract/pseudonym-key.js";
import { checkTlsFiles } from "./tls-files.js";

// ajv ships CommonJS with `exports.default`; under NodeNext the class is on `.default`.
const Ajv = AjvModule.default;

export const SYSTEM_CONFIG_PATH = "/etc/qrgate/config.json";
/** The provisioning key set's default file name, beside the config (the schema's default of `provisioningKeys`). */
export const DEFAULT_PROVISIONING_KEYS = "provisioning-keys.jwks.json";

/** The device-config/schema.json shipped with this qrgate (new configs name it as their `$schema`). */
export function schemaPath(): string {
  // dist/src/config/ or src/config/ -> package root
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = resolve(dir, "device-config/schema.json");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error("device-config/schema.json not found beside the qrgate package");
}

let validator: ReturnType<InstanceType<typeof Ajv>["compile"]> | null = null;

function getValidator(): NonNullable<typeof validator> {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true });
    validator = ajv.compile(JSON.parse(readFileSync(schemaPath(), "utf8")) as object);
  }
  return validator;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath === "" ? "(top level)" : e.instancePath.slice(1).replaceAll("/", ".");
  switch (e.keyword) {
    case "additionalProperties":
      return `${where}: unknown key '${String(e.params.additionalProperty)}'`;
    case "required":
      return `${where}: missing required key '${String(e.params.missingProperty)}'`;
    case "enum":
      return `${where}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "type":
      return `${where}: must be ${String(e.params.type)}`;
    case "if":
    case "anyOf":
      return "";
    default:
      return `${where}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Validates a parsed configuration against device-config/schema.json, filling in defaults, then the rules between
 * keys (config-checks.ts). Returns the complete configuration, or throws every problem found, each with the dotted
 * path of the key.
 */
export function validateConfig(raw: unknown, source: string): Config {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, ["the configuration must be a JSON object"]);
  }
  const copy = structuredClone(raw);
  const validate = getValidator();
  if (!validate(copy)) {
    const problems = [...new Set((validate.errors ?? []).map(describe).filter((p) => p !== ""))];
    throw new ConfigError(source, problems);
  }
  // ajv has checked the shape and filled the defaults (the generated DeviceConfigFile); the door is then normalized.
  const also = validateAlsoScanners(copy as { scanner: { also: unknown[] } });
  if (also.length > 0) throw new ConfigError(source, [...new Set(also)]);
  const schemaValid = normalizeDoor(copy as Record<string, unknown>) as unknown as Config;
  const zone = schemaValid.policy.timeZone;
  if (!isKnownTimeZone(zone)) throw new ConfigError(source, [`policy.timeZone: unknown time zone '${zone}'`]);
  const config: Config =
    schemaValid.pseudonymize === undefined
      ? schemaValid
      : { ...schemaValid, pseudonymize: { key: trimPseudonymKey(schemaValid.pseudonymize.key) } };
  const crossKey = crossKeyProblems(config);
  if (crossKey.length > 0) throw new ConfigError(source, crossKey);
  return config;
}

/**
 * `scanner.also` lists more scanners with the keys of `scanner`; the schema cannot refer to `scanner` from
 * inside it (ajv's strict mode refuses the default at a referenced root), so each is checked, and given its
 * defaults, as the `scanner` of a config of its own.
 */
function validateAlsoScanners(c: { scanner: { also: unknown[] } }): string[] {
  const problems: string[] = [];
  c.scanner.also = c.scanner.also.map((item, i) => {
    const one: { scanner?: unknown } = { scanner: item };
    const validate = getValidator();
    if (validate(one)) {
      const filled = one.scanner as { also: unknown[] };
      if (filled.also.length > 0) problems.push(`scanner.also.${i}.also: a listed scanner cannot list more`);
      return filled;
    }
    const at = `scanner.also.${i}`;
    problems.push(...(validate.errors ?? []).map(describe).filter((p) => p !== "").map((p) => (p.startsWith("scanner") ? at + p.slice("scanner".length) : p)));
    return item;
  });
  return problems;
}

/**
 * `door` in the file is the door's name, or `{name, contact, heldOpenMs}`; the Config keeps `door` the name and
 * puts the contact, defaults filled, in `doorContact` (defaults cannot live inside the schema's anyOf).
 */
function normalizeDoor(c: Record<string, unknown>): Record<string, unknown> {
  const door = c.door;
  if (typeof door !== "object" || door === null) return c;
  const d = door as { name?: string; contact?: Record<string, unknown>; heldOpenMs?: number };
  const out: Record<string, unknown> = { ...c, door: d.name ?? "main" };
  if (d.contact !== undefined) {
    out.doorContact = {
      openLevel: "high",
      bias: "pull-up",
      debounceMs: 50,
      ...d.contact,
      heldOpenMs: d.heldOpenMs ?? 30_000,
    };
  }
  return out;
}

/** Makes the file paths inside a configuration absolute, relative to the folder of the file they came from. */
function resolvePaths(c: Config, baseDir: string): Config {
  const abs = (p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...c,
    store: { ...c.store, path: abs(c.store.path) as string },
    passes: { ...c.passes, ...(c.passes.issuerKeys !== undefined ? { issuerKeys: abs(c.passes.issuerKeys) } : {}) },
    centre: { ...c.centre, ...(c.centre.publicKey !== undefined ? { publicKey: abs(c.centre.publicKey) } : {}) },
    provisioningKeys: abs(c.provisioningKeys) as string,
    mqtt: {
      ...c.mqtt,
      ...(c.mqtt.ca !== undefined ? { ca: abs(c.mqtt.ca) } : {}),
      ...(c.mqtt.cert !== undefined ? { cert: abs(c.mqtt.cert) } : {}),
      ...(c.mqtt.key !== undefined ? { key: abs(c.mqtt.key) } : {}),
    },
  };
}

/**
 * The files a configuration names must be there and readable now, not when the uplink first connects (a missing
 * `mqtt.ca` used to leave a gate that neither ran nor exited). Returns one problem per bad file, by key.
 */
export function checkConfigFiles(c: Config): string[] {
  const files: Array<[string, string | undefined]> = [
    ["mqtt.ca", c.mqtt.ca],
    ["mqtt.cert", c.mqtt.cert],
    ["mqtt.key", c.mqtt.key],
    ["passes.issuerKeys", c.passes.issuerKeys],
  ];
  const problems: string[] = [];
  for (const [key, path] of files) {
    if (path === undefined) continue;
    try {
      if (!statSync(path).isFile()) {
        problems.push(`${key}: ${path} is not a file`);
        continue;
      }
      accessSync(path, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? (e as Error).message);
      problems.push(`${key}: cannot read ${path}: ${why}`);
    }
  }
  if ((c.mqtt.cert === undefined) !== (c.mqtt.key === undefined)) {
    problems.push(`mqtt.${c.mqtt.cert === undefined ? "cert" : "key"}: mqtt.cert and mqtt.key go together (client certificate and its key)`);
  }
  if (problems.length === 0) {
    const read = (p: string | undefined): Buffer | undefined => (p === undefined ? undefined : readFileSync(p));
    try {
      checkTlsFiles({ ca: read(c.mqtt.ca), cert: read(c.mqtt.cert), key: read(c.mqtt.key) }, c.mqtt);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(`${e.source}: ${e.problems.join("; ")}`);
    }
  }
  return problems;
}

/**
 * Finds and loads the configuration: `--config FILE`, else `$QRGATE_CONFIG`, else /etc/qrgate/config.json,
 * else the embedded simulator default (stdin scanner, simulated relay, store under ./data/). The files the
 * configuration names are checked too (`checkFiles: false` skips that, to validate a config for another machine).
 */
export function loadConfig(
  explicitPath?: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: { readonly checkFiles?: boolean } = {},
): LoadedConfig {
  const envPath = env.QRGATE_CONFIG !== undefined && env.QRGATE_CONFIG !== "" ? env.QRGATE_CONFIG : undefined;
  const path = explicitPath ?? envPath ?? (existsSync(SYSTEM_CONFIG_PATH) ? SYSTEM_CONFIG_PATH : undefined);
  if (path === undefined) {
    const config = validateConfig({}, "(embedded simulator default)");
    return { config: resolvePaths(config, process.cwd()), source: { kind: "embedded" } };
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // First boot: no config yet, but the fleet's provisioning keys are beside where it goes, so the gate waits for
    // a signed provisioning code that writes it.
    if (code === "ENOENT" && existsSync(resolve(dirname(resolve(path)), DEFAULT_PROVISIONING_KEYS))) {
      const config = validateConfig({ provisioning: true }, `${path} (absent: provisioning mode)`);
      return { config: resolvePaths(config, dirname(resolve(path))), source: { kind: "absent", path: resolve(path) } };
    }
    throw new ConfigError(path, [`cannot read the file: ${code ?? (e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  const config = resolvePaths(validateConfig(raw, path), dirname(resolve(path)));
  const problems = opts.checkFiles === false ? [] : checkConfigFiles(config);
  if (problems.length > 0) throw new ConfigError(path, problems);
  return { config, source: { kind: "file", path: resolve(path) } };
}
