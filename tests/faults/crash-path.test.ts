/**
 * Fail-secure on the crash path: an exception nobody catches while the door is released switches the relay off
 * before the process exits 70 with one fatal line. A real `qrgate run` (debug hook QRGATE_DEBUG_THROW).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, spawnCli } from "../support/cli.js";
import { waitFor } from "../support/wait.js";

const CARD = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021";

describe("crash path", () => {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-crash-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("an uncaught exception during a pulse: relay off, one fatal line, exit 70", async () => {
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ mqtt: { url: "mqtt://127.0.0.1:1" }, relay: { type: "sim", pulseMs: 10_000, maxPulseMs: 15_000 }, store: { path: join(dir, "gate.db") } }));
    writeFileSync(join(dir, "status.csv"), "001099012345,clear,2,2021-09-01,,1990-01-01,,\n");
    expect(runCli(["status", "import", join(dir, "status.csv"), "--config", config]).status).toBe(0);
    const g = spawnCli(["run", "--config", config], { cwd: dir, env: { QRGATE_DEBUG_THROW: "1" } });
    await waitFor(() => g.logs().some((l) => l.msg === "gate started"), "gate started");
    g.proc.stdin?.write(CARD + "\n");
    await waitFor(() => g.logs().some((l) => l.msg === "relay on"), "the door released");
    g.proc.kill("SIGUSR2");
    expect(await g.exited()).toBe(70);
    const msgs = g.logs().map((l) => l.msg);
    expect(msgs.slice(msgs.indexOf("relay on") + 1)).toContain("relay off");
    const userLines = g.stderr.filter((l) => l !== "" && !l.startsWith("{"));
    expect(userLines).toEqual(["qrgate: fatal uncaught exception: debug: uncaught exception requested by QRGATE_DEBUG_THROW (QRGATE_DEBUG=1 shows the stack)"]);
  });
});
