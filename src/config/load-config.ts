import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import AjvModule, { type ErrorObject } from "ajv";
import type { Config, LoadedConfig } from "./config.js";
import { ConfigError } from "./config-error.js";

// ajv ships CommonJS with `exports.default`; under NodeNext the class is on `.default`.
const Ajv = AjvModule.default;

export const SYSTEM_CONFIG_PATH = "/etc/qrgate/config.json";

function schemaPath(): string {
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
      return "";
    default:
      return `${where}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Validates a parsed configuration against device-config/schema.json, filling in defaults. Returns every
 * problem found, each with the dotted path of the key, or the complete configuration.
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
  return copy as Config;
}

/** Makes the file paths inside a configuration absolute, relative to the folder of the file they came from. */
function resolvePaths(c: Config, baseDir: string): Config {
  const abs = (p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...c,
    store: { ...c.store, path: abs(c.store.path) as string },
    passes: { ...c.passes, ...(c.passes.issuerKeys !== undefined ? { issuerKeys: abs(c.passes.issuerKeys) } : {}) },
    mqtt: {
      ...c.mqtt,
      ...(c.mqtt.ca !== undefined ? { ca: abs(c.mqtt.ca) } : {}),
      ...(c.mqtt.cert !== undefined ? { cert: abs(c.mqtt.cert) } : {}),
      ...(c.mqtt.key !== undefined ? { key: abs(c.mqtt.key) } : {}),
    },
  };
}

/**
 * Finds and loads the configuration: `--config FILE`, else `$QRGATE_CONFIG`, else /etc/qrgate/config.json,
 * else the embedded simulator default (stdin scanner, simulated relay, store under ./data/).
 */
export function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
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
    throw new ConfigError(path, [`cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  const config = validateConfig(raw, path);
  return { config: resolvePaths(config, dirname(resolve(path))), source: { kind: "file", path: resolve(path) } };
}
