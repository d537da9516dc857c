/**
 * `qrgate collect` as a child process (the built CLI, dist/src/cli/main.js), with its JSON log lines kept for
 * assertions: for the take-over test and bench, where collectors are SIGKILLed and SIGSTOPped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI, from tests/support or from dist/tests/support. */
export function cliPath(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  for (const up of ["../../dist/src/cli/main.js", "../../src/cli/main.js"]) {
    const p = resolve(here, up);
    if (existsSync(p) && p.endsWith(".js") && p.includes("/dist/")) return p;
  }
  throw new Error("dist/src/cli/main.js is missing: build first (npm run build)");
}

export interface CollectorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** stderr lines (pino JSON), as they come. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The parsed log lines whose `msg` is `msg`. */
  logged(msg: string): Record<string, unknown>[];
}

export function spawnCollector(name: string, url: string, args: readonly string[], cwd?: string): CollectorProcess {
  const child = spawn(process.execPath, [cliPath(), "collect", "--url", url, "--client-id", name, ...args], {
    ...(cwd !== undefined ? { cwd } : {}),
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines: string[] = [];
  let buf = "";
  child.stderr.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  return {
    name,
    child,
    lines,
    exited,
    logged(msg) {
      const out: Record<string, unknown>[] = [];
      for (const l of lines) {
        if (!l.includes(`"msg":"${msg}"`)) continue;
        try {
          out.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          // a line cut by a kill
        }
      }
      return out;
    },
  };
}
