/**
 * The unit files as systemd reads them: `systemd-analyze verify` accepts them and `systemd-analyze security` rates
 * their exposure at most 2.5 (the bound). Needs systemd-analyze (Debian package `systemd`).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const UNITS = ["qrgate.service", "qrgate-collect.service"] as const;
const MAX_EXPOSURE = 2.5;
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
if (!hasAnalyze) process.stderr.write("systemd unit tests skipped: systemd-analyze not found (apt-get install systemd)\n");

/** The unit with its /usr/local/bin/qrgate pointed at a stub, since verify checks that the command exists. */
function unitCopy(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-unit-"));
  const stub = join(dir, "qrgate");
  writeFileSync(stub, "#!/bin/sh\nexit 0\n");
  chmodSync(stub, 0o755);
  const text = readFileSync(new URL(`../../systemd/${name}`, import.meta.url), "utf8");
  const path = join(dir, name);
  writeFileSync(path, text.replaceAll("/usr/local/bin/qrgate", stub));
  return path;
}

function exposure(path: string): number {
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", path], { encoding: "utf8" });
  const m = /Overall exposure level for \S+: ([0-9.]+)/.exec(r.stdout + r.stderr);
  if (m === null) throw new Error(`no exposure figure in: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe.skipIf(!hasAnalyze).each(UNITS)("systemd/%s", (name) => {
  it("passes systemd-analyze verify without a warning", () => {
    const r = spawnSync("systemd-analyze", ["verify", unitCopy(name)], { encoding: "utf8" });
    expect(r.stderr.trim()).toBe("");
    expect(r.status).toBe(0);
  });

  it(`has an exposure of at most ${MAX_EXPOSURE} in systemd-analyze security`, () => {
    const level = exposure(unitCopy(name));
    process.stdout.write(`${name}: exposure ${level}\n`);
    expect(level).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it("is a notify service with a watchdog that always restarts", () => {
    const text = readFileSync(new URL(`../../systemd/${name}`, import.meta.url), "utf8");
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^NotifyAccess=main$/m);
    expect(text).toMatch(/^WatchdogSec=\d+$/m);
    expect(text).toMatch(/^Restart=always$/m);
  });
});

describe.skipIf(!hasAnalyze)("systemd/qrgate.service", () => {
  it("forces the relay off after every stop, whatever ended the gate", () => {
    const text = readFileSync(new URL("../../systemd/qrgate.service", import.meta.url), "utf8");
    expect(text).toMatch(/^ExecStopPost=-\/usr\/local\/bin\/qrgate relay-off --config \/etc\/qrgate\/config\.json$/m);
  });

  it("measures worse when the hardening is taken out (the figure is not a constant)", () => {
    const path = unitCopy("qrgate.service");
    const stripped = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => !/^(Protect|Private|Restrict|SystemCall|Capability|DevicePolicy|DeviceAllow|NoNewPrivileges)/.test(l))
      .join("\n");
    writeFileSync(path, stripped);
    expect(exposure(path)).toBeGreaterThan(MAX_EXPOSURE);
  });
});
