/**
 * A pseudo-terminal pair made by socat: the gate opens `devicePath` as its serial scanner, the test writes the
 * scanner's bytes into `hostPath`.
 */
import { spawn } from "node:child_process";
import { existsSync, openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./wait.js";

export interface PtyPair {
  readonly devicePath: string;
  readonly hostPath: string;
  /** Writes raw bytes as the scanner would send them. */
  write(bytes: Buffer | string): void;
  close(): Promise<void>;
}

export async function openPtyPair(dir: string): Promise<PtyPair> {
  const devicePath = join(dir, "scanner-tty");
  const hostPath = join(dir, "host-tty");
  const socat = spawn("socat", [`pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: "ignore" });
  let exited = false;
  socat.once("exit", () => (exited = true));
  await waitFor(() => exited || (existsSync(devicePath) && existsSync(hostPath)), "socat to create the pty pair", 10_000);
  if (exited) throw new Error("socat exited before creating the pty pair (is socat installed?)");
  const fd = openSync(hostPath, "r+");
  return {
    devicePath,
    hostPath,
    write(bytes) {
      writeSync(fd, typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
    },
    async close() {
      closeSync(fd);
      if (!exited) {
        const gone = new Promise((r) => socat.once("exit", r));
        socat.kill("SIGTERM");
        await gone;
      }
    },
  };
}
