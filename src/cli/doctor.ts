import { existsSync } from "node:fs";
import { ConfigError } from "../config/config-error.js";
import { alsoScanners, type Config } from "../config/config.js";
import { loadConfig, validateConfig } from "../config/load-config.js";
import { CliError } from "./cli-error.js";
import { parseCommandLine } from "./command-line.js";
import { broker, clockSync, configuredScanner, disk, gpio, hidDevices, serialPorts, store, videoDevices, type Check } from "./doctor-checks.js";

const HELP = `usage: qrgate doctor [--config FILE] [--json]

Checks what the gate needs on this machine: the configuration, the configured
scanner, serial ports and HID devices that look like scanners, video devices,
GPIO access, the broker (and its TLS), the store (PRAGMA quick_check), the
status table's age, clock synchronisation (a Pi has no RTC) and free disk.
Prints one verdict per line: ok, info, warn (works, but look), fail (the gate
cannot work like this). --json prints {ok, checks: [{check, verdict, detail}]}.

Exit status: 0 nothing failed, 1 something failed, 2 usage error.`;

const MARK: Record<Check["verdict"], string> = { ok: "ok  ", info: "info", warn: "WARN", fail: "FAIL" };

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine("doctor", {
    args: argv,
    allowPositionals: false,
    options: {
      config: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (parsed.values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const path = parsed.values.config;
  if (path !== undefined && !existsSync(path)) throw new CliError(`doctor: no configuration file ${path}`);

  const checks: Check[] = [];
  let cfg: Config;
  try {
    const loaded = loadConfig(path);
    cfg = loaded.config;
    checks.push({ check: "config", verdict: "ok", detail: loaded.source.kind === "file" ? loaded.source.path : "none found: the embedded simulator default (stdin scanner, simulated relay)" });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) checks.push({ check: "config", verdict: "fail", detail: `${e.source}: ${p}` });
    // The machine's own checks still say something useful, against the defaults.
    cfg = validateConfig({}, "(defaults)");
  }

  const nowMs = Date.now();
  for (const s of [cfg.scanner, ...alsoScanners(cfg)]) checks.push(...configuredScanner({ ...cfg, scanner: { ...s, also: [] } }));
  const [serial, hid, brokerCheck, storeChecks, clock] = await Promise.all([serialPorts(), hidDevices(), broker(cfg), store(cfg, nowMs), clockSync(nowMs)]);
  checks.push(serial, hid, videoDevices(cfg), gpio(cfg), brokerCheck, ...storeChecks, clock, disk(cfg));

  const ok = !checks.some((c) => c.verdict === "fail");
  if (parsed.values.json) {
    process.stdout.write(JSON.stringify({ ok, checks }) + "\n");
  } else {
    const width = Math.max(...checks.map((c) => c.check.length));
    for (const c of checks) process.stdout.write(`${MARK[c.verdict]}  ${c.check.padEnd(width)}  ${c.detail}\n`);
    process.stdout.write(ok ? "\nthe gate can run here\n" : "\nthe gate cannot work like this: fix the FAIL lines\n");
  }
  return ok ? 0 : 1;
}
