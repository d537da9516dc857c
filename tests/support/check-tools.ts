/**
 * vitest globalSetup: before any test runs, checks the system tools the tests use and prints one line per missing
 * tool naming its Debian package, instead of a wall of failures. Tools most test files need stop the run; the others
 * only skip the tests that use them (those tests say so).
 */
import { spawnSync } from "node:child_process";

interface Tool {
  readonly command: string;
  readonly args: string[];
  readonly packageName: string;
  /** Needed by so many tests that running without it is pointless. */
  readonly required: boolean;
  /** Its tests skip themselves (saying so) when it is missing. */
  readonly skips?: boolean;
}

const TOOLS: readonly Tool[] = [
  { command: "mosquitto", args: ["-h"], packageName: "mosquitto", required: true },
  { command: "socat", args: ["-V"], packageName: "socat", required: true },
  { command: "openssl", args: ["version"], packageName: "openssl", required: true },
  { command: "shellcheck", args: ["--version"], packageName: "shellcheck", required: false, skips: true },
  { command: "systemd-analyze", args: ["--version"], packageName: "systemd", required: false, skips: true },
  { command: "python3", args: ["--version"], packageName: "python3", required: false },
  { command: "ffmpeg", args: ["-version"], packageName: "ffmpeg", required: false },
  { command: "qrencode", args: ["--version"], packageName: "qrencode", required: false },
];

function present(t: Tool): boolean {
  const r = spawnSync(t.command, t.args, { stdio: "ignore" });
  return r.error === undefined;
}

export default function setup(): void {
  const missing = TOOLS.filter((t) => !present(t));
  for (const t of missing) {
    process.stderr.write(`missing tool: ${t.command} (Debian package ${t.packageName}; scripts/setup-dev.sh installs it)${t.skips === true ? " — its tests are skipped" : ""}\n`);
  }
  const required = missing.filter((t) => t.required);
  if (required.length > 0) {
    throw new Error(`the tests need ${required.map((t) => t.command).join(", ")}: run scripts/setup-dev.sh (or apt-get install ${required.map((t) => t.packageName).join(" ")})`);
  }
}
