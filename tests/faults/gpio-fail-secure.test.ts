/**
 * Fail-secure on a GPIO relay, with a real `qrgate run` on a fake sysfs tree (a Pi 4 on Bookworm: GPIO17 is line
 * 529): the strike's line is back at its locked level after SIGTERM, SIGINT and an uncaught exception mid-pulse,
 * and after a SIGKILL (what a watchdog restart does) once `qrgate relay-off` (the unit's ExecStopPost) has run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeSysfsGpio } from "../fakes/fake-sysfs-gpio.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { waitFor } from "../support/wait.js";

const CARD = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021";
const LINE = 512 + 17;

describe("GPIO relay fail-secure in a real process", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
  });

  function setup() {
    const fs = new FakeSysfsGpio();
    fs.exportLine(LINE, "0"); // left "on" (active-low) by a previous run
    const dir = mkdtempSync(join(tmpdir(), "qrgate-gpio-fs-"));
    cleanup.push(() => {
      fs.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        mqtt: { url: "mqtt://127.0.0.1:1" },
        relay: { type: "gpio", pin: 17, activeLow: true, pulseMs: 10_000, maxPulseMs: 15_000 },
        gpio: { backend: "sysfs" },
        policy: { unknown: "allow" },
        store: { path: join(dir, "gate.db") },
      }),
    );
    const env = { QRGATE_DEBUG_SYSFS_GPIO: fs.root };
    return { fs, dir, config, env };
  }

  async function releasedGate(extraEnv: Record<string, string> = {}): Promise<{ g: CliChild; fs: FakeSysfsGpio; config: string; env: Record<string, string> }> {
    const { fs, dir, config, env } = setup();
    const g = spawnCli(["run", "--config", config], { cwd: dir, env: { ...env, ...extraEnv } });
    cleanup.push(() => g.proc.kill("SIGKILL"));
    await waitFor(() => g.logs().some((l) => l.msg === "gate started"), "gate started");
    expect(fs.read(LINE, "value")).toBe("1"); // locked at start although left on
    g.proc.stdin?.write(CARD + "\n");
    await waitFor(() => fs.read(LINE, "value") === "0", "the strike released");
    return { g, fs, config, env };
  }

  it.each(["SIGTERM", "SIGINT"] as const)("%s mid-pulse: the line is locked before the process exits 0", async (signal) => {
    const { g, fs } = await releasedGate();
    g.proc.kill(signal);
    expect(await g.exited()).toBe(0);
    expect(fs.read(LINE, "value")).toBe("1");
  });

  it("an uncaught exception mid-pulse: the line is locked, exit 70", async () => {
    const { g, fs } = await releasedGate({ QRGATE_DEBUG_THROW: "1" });
    g.proc.kill("SIGUSR2");
    expect(await g.exited()).toBe(70);
    expect(fs.read(LINE, "value")).toBe("1");
  });

  it("SIGKILL mid-pulse (a watchdog restart) leaves the line released until relay-off locks it", async () => {
    const { g, fs, config, env } = await releasedGate();
    g.proc.kill("SIGKILL");
    await g.exited();
    expect(fs.read(LINE, "value")).toBe("0");
    const r = runCli(["relay-off", "--config", config], { env });
    expect(r.status).toBe(0);
    expect(fs.read(LINE, "value")).toBe("1");
  });

  it("a relay line that cannot be claimed: the gate refuses to start with one line, exit 2", () => {
    const { config, dir } = setup();
    const r = runCli(["run", "--config", config], { cwd: dir, env: { QRGATE_DEBUG_SYSFS_GPIO: join(dir, "no-such-tree") } });
    expect(r.status).toBe(2);
    const userLines = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("{"));
    expect(userLines).toEqual([expect.stringMatching(/^qrgate: no sysfs GPIO at .*no-such-tree .*use gpio.backend "gpiod"$/)]);
  });
});
